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

/* True if f starts like a PNG, JPEG, GIF, BMP or binary PGM/PPM; f is
 * rewound. stb_image also tries formats without a signature (TGA) on any
 * bytes: those, and its rarer formats, are not worth that exposure. */
static bool known_signature(FILE *f)
{
    static const char *const signatures[] = {"\x89PNG\r\n\x1a\n", "\xff\xd8\xff", "GIF87a", "GIF89a", "BM", "P5", "P6"};
    char head[8] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    rewind(f);
    for (size_t i = 0; i < sizeof signatures / sizeof *signatures; i++) {
        size_t len = strlen(signatures[i]);
        if (n >= len && !memcmp(head, signatures[i], len)) return true;
    }
    return false;
}

/* Debian's stb_image reads the numbers of a binary PNM header (P5, P6)
 * into an int with no bound, a signed overflow (undefined behaviour, found
 * by fuzz_image). True unless f is such a file with a width, height or
 * maximum value of more than 9 digits. *maxval is the header's maximum
 * value (0 if it has none), or -1 for another format; *data_at is where
 * the samples start, after the one whitespace byte that ends the header.
 * f is rewound. */
static bool pnm_numbers_fit(FILE *f, long *maxval, long *data_at)
{
    int c = fgetc(f), kind = fgetc(f);
    bool fits = true;
    *maxval = -1;
    if (c == 'P' && (kind == '5' || kind == '6')) {
        c = fgetc(f);
        for (int number = 0; number < 3 && fits; number++) {
            for (;;) { /* whitespace and comments, as stb skips them */
                while (c > 0 && strchr(" \t\n\v\f\r", c)) c = fgetc(f);
                if (c != '#') break;
                while (c != EOF && c != '\n' && c != '\r') c = fgetc(f);
            }
            int digits = 0;
            long value = 0;
            for (; c >= '0' && c <= '9' && digits < 10; c = fgetc(f)) digits++, value = value * 10 + (c - '0');
            fits = digits <= 9;
            if (number == 2) *maxval = value;
        }
        *data_at = ftell(f);
    }
    rewind(f);
    return fits;
}

/* PNM samples run from 0 to the header's maxval (1 to 65535; 255 is only
 * the usual one), which stb_image does not scale: it returns 8-bit samples
 * as stored. Its 16-bit samples (maxval > 255) are the file's two bytes in
 * the machine's order, where PNM stores the most significant first (a
 * 10-bit 113 came back as 28928), so those are read again from the file.
 * Every sample is scaled to 0..255, in stb's buffer. */
static unsigned char *load_pnm(FILE *f, long maxval, long data_at, int *w, int *h, int *comp)
{
    if (maxval <= 255) {
        unsigned char *px = stbi_load_from_file(f, w, h, comp, 0);
        for (size_t i = 0; px && maxval != 255 && i < (size_t)*w * *h * *comp; i++)
            px[i] = (unsigned char)(px[i] >= maxval ? 255 : (px[i] * 255 + maxval / 2) / maxval);
        return px;
    }
    unsigned char *px = (unsigned char *)stbi_load_from_file_16(f, w, h, comp, 0);
    size_t n = px ? (size_t)*w * *h * *comp : 0;
    if (px && (fseek(f, data_at, SEEK_SET) != 0 || fread(px, 2, n, f) != n)) {
        stbi_image_free(px);
        return NULL;
    }
    /* narrowed in place: byte i is written after bytes 2i and 2i + 1 are read */
    for (size_t i = 0; i < n; i++) {
        long v = px[2 * i] << 8 | px[2 * i + 1];
        px[i] = (unsigned char)(v >= maxval ? 255 : (v * 255 + maxval / 2) / maxval);
    }
    return px;
}

/* stb_image grows its buffer to a PNG data chunk's declared length before
 * reading it, so a 167-byte file declaring a 2 GB chunk had it ask for
 * 2 GB (found by fuzz_image). False if f is a PNG with a chunk longer than
 * the rest of the file; f is rewound. Chunks: length (4 bytes, most
 * significant first), type (4), data, CRC (4). */
static bool png_chunks_fit(FILE *f)
{
    unsigned char head[8];
    bool fits = true;
    if (fread(head, 1, 8, f) == 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8) && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f), at = 8;
        while (fits && at + 8 <= size && fseek(f, at, SEEK_SET) == 0 && fread(head, 1, 8, f) == 8) {
            unsigned long length = (unsigned long)head[0] << 24 | (unsigned long)head[1] << 16 |
                                   (unsigned long)head[2] << 8 | head[3];
            fits = length <= (unsigned long)(size - at - 8);
            at += 12 + (long)length;
            if (!memcmp(head + 4, "IEND", 4)) break;
        }
    }
    rewind(f);
    return fits;
}

/* Debian's stb_image builds a JPEG Huffman table without checking that
 * its code counts sum to at most 256, and writes past two arrays when they
 * do not (found by fuzz_image). False if f is a JPEG with such a table in
 * any DHT segment — of the whole file, as progressive JPEGs define tables
 * between scans; f is rewound. Segments are walked the way stb walks them. */
static bool jpeg_tables_fit(FILE *f)
{
    bool fits = true;
    if (fgetc(f) == 0xFF && fgetc(f) == 0xD8) {
        for (int c = fgetc(f); c != EOF && fits;) {
            if (c != 0xFF) { /* entropy-coded data, or junk stb refuses */
                c = fgetc(f);
                continue;
            }
            while (c == 0xFF) c = fgetc(f);
            int marker = c;
            c = fgetc(f);
            if (marker == EOF || marker == 0xD9) break;
            if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue; /* no length */
            int low = fgetc(f);
            if (c == EOF || low == EOF) break;
            long left = c * 256L + low - 2;
            while (marker == 0xC4 && left > 0 && fits) {
                fgetc(f); /* table class and number */
                int codes = 0;
                for (int i = 0; i < 16; i++) {
                    int count = fgetc(f);
                    codes += count == EOF ? 0 : count; /* stb reads 0 past the end */
                }
                fits = codes <= 256;
                left -= 17 + codes;
                for (int i = 0; i < codes; i++) fgetc(f);
            }
            for (; marker != 0xC4 && left > 0; left--) fgetc(f);
            c = fgetc(f);
        }
    }
    rewind(f);
    return fits;
}

/* Pixel i of an image of comp channels (grey, grey+alpha, RGB, RGBA) as
 * grey and alpha, grey by stb_image's own weights (ITU-R BT.601, in 8.8
 * fixed point) so files read the same as through its conversion. */
static void grey_alpha(const unsigned char *px, int comp, size_t i, int *grey, int *alpha)
{
    const unsigned char *p = px + i * (size_t)comp;
    *grey = comp >= 3 ? (p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8 : p[0];
    *alpha = comp == 2 ? p[1] : comp == 4 ? p[3] : 255;
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
    long maxval, data_at = 0;
    const char *refused = !known_signature(f)                       ? "tg reads PNG, JPEG, GIF, BMP and binary PGM/PPM"
                          : !pnm_numbers_fit(f, &maxval, &data_at) ? "a PNM header number of more than 9 digits"
                          : maxval == 0 || maxval > 65535          ? "a PNM maximum value outside 1 to 65535"
                          : !jpeg_tables_fit(f)                    ? "a JPEG Huffman table of more than 256 codes"
                          : !png_chunks_fit(f)                     ? "a PNG chunk longer than the file"
                                                                   : NULL;
    if (refused) {
        fclose(f);
        tg_set_error("%s: not an image tg can read (%s)", path, refused);
        return TG_ERR_FORMAT;
    }
    int w, h, comp;
    bool known = stbi_info_from_file(f, &w, &h, &comp);
    /* stb_image accepts some headers of zero rows (a PGM "P5 4 <junk>"):
     * found by fuzz_image, refused here. */
    if (known && (w < 1 || h < 1)) {
        fclose(f);
        tg_set_error("%s: the image is %d x %d pixels: it has none", path, w, h);
        return TG_ERR_FORMAT;
    }
    if (known && (w > MAX_SIDE || h > MAX_SIDE)) {
        fclose(f);
        tg_set_error("%s: %d x %d pixels is larger than tg reads (%d a side)", path, w, h, MAX_SIDE);
        return TG_ERR_FORMAT;
    }
    /* The channels as stored (no conversion asked): Debian's stb_image
     * converts 16-bit PNM data as if it were 8-bit when asked for other
     * channels, writing past its buffer (found by fuzz_image). */
    unsigned char *px = !known ? NULL
                        : maxval > 0 ? load_pnm(f, maxval, data_at, &w, &h, &comp)
                                 : stbi_load_from_file(f, &w, &h, &comp, 0);
    fclose(f);
    if (px && (comp < 1 || comp > 4)) {
        stbi_image_free(px);
        tg_set_error("%s: %d channels per pixel; tg reads 1 to 4", path, comp);
        return TG_ERR_FORMAT;
    }
    if (!px) {
        const char *why = stbi_failure_reason();
        tg_set_error("%s: not an image tg can read (%s)", path, why ? why : "its samples cannot be read");
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
    int v, a;
    for (size_t i = 0; i < n; i++) {
        grey_alpha(px, comp, i, &v, &a);
        opaque += v / 255.0 * (a / 255.0), coverage += a / 255.0;
    }
    double background = coverage > 0 && opaque / coverage < 0.5 ? 1.0 : 0.0;
    for (size_t i = 0; i < n; i++) {
        grey_alpha(px, comp, i, &v, &a);
        grey[i] = (float)(a / 255.0 * v / 255.0 + (1 - a / 255.0) * background);
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
