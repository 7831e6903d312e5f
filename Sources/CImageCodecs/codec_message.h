// Copies a library's error text into the caller's message buffer.
#ifndef CODEC_MESSAGE_H
#define CODEC_MESSAGE_H

#include <stdio.h>

static inline void codec_set_message(char *message, size_t message_size, const char *text) {
    if (message != NULL && message_size > 0) snprintf(message, message_size, "%s", text);
}

#endif
