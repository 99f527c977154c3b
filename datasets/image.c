/* image.c — an image file as a FashionMNIST-like input: grey, small, light
 * object on a dark background. Decoding is stb_image's (Debian's libstb). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <tg.h>

enum { MAX_SIDE = 8192 }; /* refuse what would take hundreds of MB to decode */

/* How much of source pixel i's span [i, i+1) lies in [lo, hi). */
static double overlap(int i, double lo, double hi)
{
    double a = i > lo ? i : lo, b = i + 1 < hi ? i + 1 : hi;
    return b > a ? b - a : 0.0;
}

/* Box (area-averaging) resize of a w x h image to cols x rows: each output
 * pixel is the mean of the source area it covers, partial pixels weighted. */
static void resize_area(const float *src, int w, int h, float *dst, int cols, int rows)
{
    double sy = (double)h / rows, sx = (double)w / cols;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double y0 = r * sy, y1 = y0 + sy, x0 = c * sx, x1 = x0 + sx, sum = 0.0;
            for (int i = (int)y0; i < h && i < y1; i++) {
                double wy = overlap(i, y0, y1);
                for (int j = (int)x0; j < w && j < x1; j++) sum += wy * overlap(j, x0, x1) * src[i * w + j];
            }
            dst[r * cols + c] = (float)(sum / (sy * sx));
        }
}

/* Mean of the outermost ring of pixels and of the middle half. */
static void border_and_middle(const float *v, int w, int h, double *border, double *middle)
{
    double b = 0, m = 0;
    int nb = 0, nm = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            if (i == 0 || j == 0 || i == h - 1 || j == w - 1) b += v[i * w + j], nb++;
            if (i >= h / 4 && i < h - h / 4 && j >= w / 4 && j < w - w / 4) m += v[i * w + j], nm++;
        }
    *border = nb ? b / nb : 0;
    *middle = nm ? m / nm : 0;
}

tg_status tg_image_load(const char *path, int rows, int cols, float *out)
{
    if (!path || !out || rows <= 0 || cols <= 0) {
        tg_set_error("tg_image_load: needs a path, an output and a positive size");
        return TG_ERR_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        tg_set_error("%s: cannot open: %s", path, strerror(errno));
        return TG_ERR_IO;
    }
    int w, h, comp;
    bool known = stbi_info_from_file(f, &w, &h, &comp);
    if (known && (w > MAX_SIDE || h > MAX_SIDE)) {
        fclose(f);
        tg_set_error("%s: %d x %d pixels is larger than tg reads (%d a side)", path, w, h, MAX_SIDE);
        return TG_ERR_FORMAT;
    }
    unsigned char *px = known ? stbi_load_from_file(f, &w, &h, &comp, 2) : NULL; /* grey + alpha */
    fclose(f);
    if (!px) {
        tg_set_error("%s: not an image tg can read (%s)", path, stbi_failure_reason());
        return TG_ERR_FORMAT;
    }
    size_t n = (size_t)w * h;
    float *grey = malloc(n * sizeof *grey);
    if (!grey) {
        stbi_image_free(px);
        tg_set_error("%s: out of memory", path);
        return TG_ERR_NOMEM;
    }
    /* Transparent pixels are background: composite over black when the
     * visible object is light, over white (inverted below) when dark. */
    double opaque = 0, coverage = 0;
    for (size_t i = 0; i < n; i++) opaque += px[2 * i] / 255.0 * (px[2 * i + 1] / 255.0), coverage += px[2 * i + 1] / 255.0;
    double background = coverage > 0 && opaque / coverage < 0.5 ? 1.0 : 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = px[2 * i + 1] / 255.0;
        grey[i] = (float)(a * px[2 * i] / 255.0 + (1 - a) * background);
    }
    stbi_image_free(px);
    resize_area(grey, w, h, out, cols, rows);
    free(grey);
    double border, middle;
    border_and_middle(out, cols, rows, &border, &middle);
    if (border > middle) /* a dark object on a light background */
        for (int i = 0; i < rows * cols; i++) out[i] = 1.0f - out[i];
    return TG_OK;
}
