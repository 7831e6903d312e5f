// PNG and JPEG through libpng and libjpeg, wrapped so that Swift never sees their error handling: both libraries
// report a fatal error by longjmp-ing out of the failing call, which must not cross Swift frames. Each function
// here sets its own jump point, returns 0 on success or -1 with a message (NUL-terminated, at most
// `message_size` bytes) on failure, and hands back output buffers that the caller frees with `dg_codec_free`.
#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H

#include <stddef.h>

/// The largest image the decoders accept, checked from the header before any pixel buffer is allocated: a file
/// declares its size in a few bytes, so a 100-byte PNG could otherwise ask for terabytes. At most 32768 pixels per
/// side and 2^26 pixels (64 Mpx: a 256 MiB RGBA buffer) in all, far above the generated and reward images here.
#define DG_IMAGE_MAX_SIDE 32768
#define DG_IMAGE_MAX_PIXELS 67108864

/// A progressive JPEG may hold any number of scans, each a pass over the whole image; more than this many is refused
/// rather than decoded (the bound libjpeg-turbo's own TurboJPEG API applies).
#define DG_JPEG_MAX_SCANS 500

/// Frees a buffer returned by one of the functions below.
void dg_codec_free(void *buffer);

/// Decodes a PNG file to 8-bit samples: palettes become RGB (RGBA with a tRNS chunk), 1/2/4-bit grey is scaled to
/// 0…255, 16-bit samples keep their high byte, Adam7 is de-interlaced. `*channels` is 1, 2, 3 or 4.
int dg_png_decode(const unsigned char *data, size_t size, unsigned char **samples, int *width, int *height,
                  int *channels, char *message, size_t message_size);

/// Encodes `width × height` 8-bit RGB pixels (rows from the top) as a PNG file: IHDR, IDAT, IEND.
int dg_png_encode_rgb(const unsigned char *rgb, int width, int height, unsigned char **png, size_t *png_size,
                      char *message, size_t message_size);

/// Encodes 8-bit RGB pixels as a JFIF file with the settings Pillow uses for `Image.save(format="JPEG", quality=q)`:
/// libjpeg defaults, `jpeg_set_quality(q, force_baseline=TRUE)`, the luma sampling factors given (2×2 is 4:2:0,
/// 1×1 is 4:4:4), Huffman tables not optimised, sequential unless `progressive`.
int dg_jpeg_encode_rgb(const unsigned char *rgb, int width, int height, int quality, int luma_h, int luma_v,
                       int progressive, unsigned char **jpeg, size_t *jpeg_size, char *message, size_t message_size);

/// Decodes a baseline or progressive JPEG (greyscale, YCbCr, RGB, CMYK or YCCK) to 8-bit RGB.
int dg_jpeg_decode_rgb(const unsigned char *data, size_t size, unsigned char **rgb, int *width, int *height,
                       char *message, size_t message_size);

#endif
