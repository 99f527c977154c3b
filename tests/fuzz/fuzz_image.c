/* fuzz_image.c — the image path of tg predict (tg_image_load, through
 * stb_image): any bytes become a 28x28 picture in [0,1] or a message. */
#include <math.h>

#include <tg.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input-image", data, size);
    if (!path) return 0;
    tg_clear_error();
    float out[28 * 28];
    if (tg_image_load(path, 28, 28, out) != TG_OK) {
        fuzz_expect_message("tg_image_load");
        return 0;
    }
    for (int i = 0; i < 28 * 28; i++)
        if (!(out[i] >= 0.0f && out[i] <= 1.0f)) __builtin_trap();
    return 0;
}
