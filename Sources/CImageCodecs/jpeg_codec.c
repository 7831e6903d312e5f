// JPEG through libjpeg's classic API. The encoder reproduces Pillow's settings call for call (Pillow's
// JpegEncode.c for an RGB image saved with a quality and no other options), so that with the same libjpeg-turbo
// the file is byte-identical to PIL's: DDPO's JPEG-size rewards measure exactly that file.
#include "CImageCodecs.h"
#include "codec_message.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// libjpeg's error manager extended with a jump point and the caller's message buffer.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    size_t message_size;
} jpeg_codec_error;

static void on_error(j_common_ptr cinfo) {
    jpeg_codec_error *error = (jpeg_codec_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    codec_set_message(error->message, error->message_size, text);
    longjmp(error->jump, 1);
}

// libjpeg only warns about a file that stops early and fills the rest with grey; a truncated file is an error
// here, as it is for PIL. Other warnings (stray bytes between markers, say) are ignored like PIL ignores them.
static void on_message(j_common_ptr cinfo, int level) {
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

static void install_error_handler(jpeg_codec_error *error, char *message, size_t message_size) {
    jpeg_std_error(&error->base);
    error->base.error_exit = on_error;
    error->base.emit_message = on_message;
    error->message = message;
    error->message_size = message_size;
}

// A destination that grows a malloc'd buffer. jpeg_mem_dest would do, but after an error its current buffer is
// only reachable through libjpeg's private state, so it could not be freed.
typedef struct {
    struct jpeg_destination_mgr base;
    unsigned char *buffer;
    size_t capacity;
} growable_destination;

static void start_destination(j_compress_ptr cinfo) { (void)cinfo; }

static boolean grow_destination(j_compress_ptr cinfo) {
    growable_destination *dest = (growable_destination *)cinfo->dest;
    size_t used = dest->capacity;
    unsigned char *grown = realloc(dest->buffer, used * 2);
    if (grown == NULL) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    dest->buffer = grown;
    dest->capacity = used * 2;
    dest->base.next_output_byte = grown + used;
    dest->base.free_in_buffer = used;
    return TRUE;
}

static void finish_destination(j_compress_ptr cinfo) { (void)cinfo; }

int dg_jpeg_encode_rgb(const unsigned char *rgb, int width, int height, int quality, int luma_h, int luma_v,
                       int progressive, unsigned char **jpeg, size_t *jpeg_size, char *message, size_t message_size) {
    *jpeg = NULL;
    *jpeg_size = 0;
    struct jpeg_compress_struct cinfo;
    jpeg_codec_error error;
    growable_destination dest;
    memset(&dest, 0, sizeof dest);
    install_error_handler(&error, message, message_size);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        // `dest` lives in memory libjpeg writes through its pointer, so its fields are current here.
        growable_destination *current = (growable_destination *)cinfo.dest;
        free(current == NULL ? NULL : current->buffer);
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    dest.capacity = 16384;
    dest.buffer = malloc(dest.capacity);
    if (dest.buffer == NULL) ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
    dest.base.next_output_byte = dest.buffer;
    dest.base.free_in_buffer = dest.capacity;
    dest.base.init_destination = start_destination;
    dest.base.empty_output_buffer = grow_destination;
    dest.base.term_destination = finish_destination;
    cinfo.dest = &dest.base;

    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    // Pillow's order: defaults (JFIF APP0 1.01, density 1:1 without unit, YCbCr, 2×2 luma), then quality with
    // baseline-compatible tables, then sampling factors, then progression; smoothing, optimisation and restart
    // intervals stay at their default 0.
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    cinfo.comp_info[0].h_samp_factor = luma_h;
    cinfo.comp_info[0].v_samp_factor = luma_v;
    for (int c = 1; c < 3; c++) {
        cinfo.comp_info[c].h_samp_factor = 1;
        cinfo.comp_info[c].v_samp_factor = 1;
    }
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);

    growable_destination *done = (growable_destination *)cinfo.dest;
    *jpeg = done->buffer;
    *jpeg_size = done->capacity - done->base.free_in_buffer;
    jpeg_destroy_compress(&cinfo);
    return 0;
}

// CMYK as Adobe writes it (and PIL reads it): stored inverted, so each inverted ink times inverted black is the
// RGB value.
static void cmyk_row_to_rgb(const unsigned char *cmyk, unsigned char *rgb, JDIMENSION width) {
    for (JDIMENSION x = 0; x < width; x++) {
        unsigned k = cmyk[4 * x + 3];
        for (int c = 0; c < 3; c++) rgb[3 * x + c] = (unsigned char)((cmyk[4 * x + c] * k + 127) / 255);
    }
}

// Called by libjpeg between passes: stops a progressive file with more scans than DG_JPEG_MAX_SCANS.
static void limit_scans(j_common_ptr cinfo) {
    j_decompress_ptr decompress = (j_decompress_ptr)cinfo;
    if (decompress->is_decompressor && decompress->input_scan_number > DG_JPEG_MAX_SCANS) {
        jpeg_codec_error *error = (jpeg_codec_error *)cinfo->err;
        char text[96];
        snprintf(text, sizeof text, "more than %d scans in a progressive JPEG", DG_JPEG_MAX_SCANS);
        codec_set_message(error->message, error->message_size, text);
        longjmp(error->jump, 1);
    }
}

int dg_jpeg_decode_rgb(const unsigned char *data, size_t size, unsigned char **rgb, int *width, int *height,
                       char *message, size_t message_size) {
    *rgb = NULL;
    struct jpeg_decompress_struct cinfo;
    jpeg_codec_error error;
    unsigned char *volatile pixels = NULL;
    unsigned char *volatile cmyk_row = NULL;
    install_error_handler(&error, message, message_size);
    cinfo.err = &error.base;
    if (setjmp(error.jump)) {
        free(pixels);
        free(cmyk_row);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    struct jpeg_progress_mgr progress = {limit_scans, 0, 0, 0, 0};
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    // Before jpeg_start_decompress, which allocates buffers (a whole coefficient image for progressive files).
    if (!codec_check_size(cinfo.image_width, cinfo.image_height, message, message_size)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    size_t row_bytes = (size_t)cinfo.output_width * 3;
    pixels = malloc(row_bytes * cinfo.output_height);
    if (pixels == NULL) ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
    if (cmyk) {
        cmyk_row = malloc((size_t)cinfo.output_width * 4);
        if (cmyk_row == NULL) ERREXIT1(&cinfo, JERR_OUT_OF_MEMORY, 0);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *target = pixels + (size_t)cinfo.output_scanline * row_bytes;
        JSAMPROW row = cmyk ? cmyk_row : target;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (cmyk) cmyk_row_to_rgb(cmyk_row, target, cinfo.output_width);
    }
    jpeg_finish_decompress(&cinfo);

    free(cmyk_row);
    *rgb = pixels;
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}
