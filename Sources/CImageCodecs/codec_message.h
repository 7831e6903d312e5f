// Copies a library's error text into the caller's message buffer.
#ifndef CODEC_MESSAGE_H
#define CODEC_MESSAGE_H

#include "CImageCodecs.h"

#include <stdio.h>

static inline void codec_set_message(char *message, size_t message_size, const char *text) {
    if (message != NULL && message_size > 0) snprintf(message, message_size, "%s", text);
}

// Whether a `width × height` image is within DG_IMAGE_MAX_SIDE and DG_IMAGE_MAX_PIXELS; if not, the message says so.
static inline int codec_check_size(unsigned long width, unsigned long height, char *text, size_t text_size) {
    if (width <= DG_IMAGE_MAX_SIDE && height <= DG_IMAGE_MAX_SIDE &&
        (unsigned long long)width * height <= DG_IMAGE_MAX_PIXELS)
        return 1;
    snprintf(text, text_size,
             "image of %lu x %lu pixels is larger than the decoder accepts (at most %d per side and %d pixels)", width,
             height, DG_IMAGE_MAX_SIDE, DG_IMAGE_MAX_PIXELS);
    return 0;
}

#endif
