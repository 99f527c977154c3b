/* stb_image_impl.c — stb_image's decoders compiled into the fuzz targets
 * (make fuzz only), instrumented like the rest, so that the fuzzer sees
 * its coverage inside them; the executable's copy takes precedence over
 * Debian's libstb.so. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
