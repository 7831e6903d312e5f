#include "video_message.h"

#include <libavutil/avutil.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[256];
static pthread_once_t capture_once = PTHREAD_ONCE_INIT;

// Keeps the last line of error severity that FFmpeg logged on this thread; drops everything else (x264's statistics,
// warnings) so the library never writes to the process's stderr.
static void on_log(void *context, int level, const char *format, va_list arguments) {
    (void)context;
    if (level > AV_LOG_ERROR) return;
    vsnprintf(last_error, sizeof last_error, format, arguments);
    size_t length = strlen(last_error);
    while (length > 0 && (last_error[length - 1] == '\n' || last_error[length - 1] == ' ')) last_error[--length] = 0;
}

static void install(void) { av_log_set_callback(on_log); }

void video_capture_log(void) { pthread_once(&capture_once, install); }

void video_clear_log(void) { last_error[0] = 0; }

int video_fail(char *message, size_t message_size, const char *what, int code) {
    if (message == NULL || message_size == 0) return -1;
    char code_text[128] = "";
    if (code != 0 && av_strerror(code, code_text, sizeof code_text) < 0)
        snprintf(code_text, sizeof code_text, "error %d", code);
    if (code_text[0] != 0 && last_error[0] != 0)
        snprintf(message, message_size, "%s: %s (%s)", what, code_text, last_error);
    else if (code_text[0] != 0 || last_error[0] != 0)
        snprintf(message, message_size, "%s: %s", what, code_text[0] != 0 ? code_text : last_error);
    else
        snprintf(message, message_size, "%s", what);
    return -1;
}
