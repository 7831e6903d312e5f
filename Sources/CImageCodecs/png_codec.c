// PNG through libpng's classic API: the simplified API (png_image_*) would treat 16-bit files as linear light and
// convert them with a gamma curve, while callers want the stored samples (high byte of 16-bit ones).
#include "CImageCodecs.h"
#include "codec_message.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

void dg_codec_free(void *buffer) { free(buffer); }

// State shared with libpng's callbacks: the byte source or sink, and where the error text goes.
typedef struct {
    const unsigned char *input;
    size_t input_size;
    size_t position;
    unsigned char *output;
    size_t output_size;
    size_t output_capacity;
    char *message;
    size_t message_size;
} png_codec_io;

static void on_error(png_structp png, png_const_charp text) {
    png_codec_io *io = png_get_error_ptr(png);
    codec_set_message(io->message, io->message_size, text);
    png_longjmp(png, 1);
}

// Warnings (an ancillary chunk with a bad CRC, say) do not stop decoding, as in other readers.
static void on_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void read_bytes(png_structp png, png_bytep target, png_size_t count) {
    png_codec_io *io = png_get_io_ptr(png);
    if (count > io->input_size - io->position) {
        char text[96];
        snprintf(text, sizeof text, "file ends after %zu bytes, inside a chunk", io->input_size);
        png_error(png, text);
    }
    memcpy(target, io->input + io->position, count);
    io->position += count;
}

int dg_png_decode(const unsigned char *data, size_t size, unsigned char **samples, int *width, int *height,
                  int *channels, char *message, size_t message_size) {
    *samples = NULL;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        codec_set_message(message, message_size, "missing PNG signature (not a PNG file)");
        return -1;
    }
    png_codec_io io = {data, size, 0, NULL, 0, 0, message, message_size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        codec_set_message(message, message_size, "out of memory");
        return -1;
    }
    // Written between setjmp and a possible longjmp, so kept in memory rather than registers.
    unsigned char *volatile pixels = NULL;
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_read_fn(png, &io, read_bytes);
    // libpng refuses a larger IHDR itself; the total is checked below, before the pixel buffer is allocated.
    png_set_user_limits(png, DG_IMAGE_MAX_SIDE, DG_IMAGE_MAX_SIDE);
    png_read_info(png, info);

    int colour_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (bit_depth == 16) png_set_strip_16(png);
    if (colour_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        // Only palettes get an alpha channel from tRNS: grey and RGB keep their channel count, as before.
        if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    }
    if (colour_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int c = png_get_channels(png, info);
    char limit_text[160];
    if (!codec_check_size(w, h, limit_text, sizeof limit_text)) png_error(png, limit_text);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != (size_t)w * (size_t)c) png_error(png, "unexpected row layout after conversion to 8 bits");
    pixels = malloc(row_bytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (pixels == NULL || rows == NULL) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + y * row_bytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *samples = pixels;
    *width = (int)w;
    *height = (int)h;
    *channels = c;
    return 0;
}

static void write_bytes(png_structp png, png_bytep bytes, png_size_t count) {
    png_codec_io *io = png_get_io_ptr(png);
    if (count > io->output_capacity - io->output_size) {
        size_t capacity = io->output_capacity == 0 ? 4096 : io->output_capacity;
        while (capacity - io->output_size < count) capacity *= 2;
        unsigned char *grown = realloc(io->output, capacity);
        if (grown == NULL) png_error(png, "out of memory");
        io->output = grown;
        io->output_capacity = capacity;
    }
    memcpy(io->output + io->output_size, bytes, count);
    io->output_size += count;
}

static void flush_nothing(png_structp png) { (void)png; }

int dg_png_encode_rgb(const unsigned char *rgb, int width, int height, unsigned char **png_bytes, size_t *png_size,
                      char *message, size_t message_size) {
    *png_bytes = NULL;
    *png_size = 0;
    png_codec_io io = {NULL, 0, 0, NULL, 0, 0, message, message_size};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, on_error, on_warning);
    png_infop info = png == NULL ? NULL : png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        codec_set_message(message, message_size, "out of memory");
        return -1;
    }
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        // Through libpng's pointer: the callbacks grew the buffer after setjmp.
        png_codec_io *written = png_get_io_ptr(png);
        free(rows);
        free(written == NULL ? NULL : written->output);
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, &io, write_bytes, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (rows == NULL) png_error(png, "out of memory");
    for (int y = 0; y < height; y++) rows[y] = (png_bytep)(rgb + (size_t)y * (size_t)width * 3);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);

    free(rows);
    png_destroy_write_struct(&png, &info);
    *png_bytes = io.output;
    *png_size = io.output_size;
    return 0;
}
