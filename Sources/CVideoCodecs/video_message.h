// Error messages for the video functions: the caller's words, FFmpeg's error code as text, and the last error
// FFmpeg logged on this thread (its codes alone are often just "Invalid data found when processing input").
#ifndef VIDEO_MESSAGE_H
#define VIDEO_MESSAGE_H

#include "CVideoCodecs.h"

/// Routes FFmpeg's log into the per-thread capture (once per process; FFmpeg then prints nothing).
void video_capture_log(void);

/// Forgets the captured log line, so that a message names only what went wrong in the current call.
void video_clear_log(void);

/// Writes "`what`: <FFmpeg's text for `code`> (<last logged error>)" into `message`; `code` 0 leaves out the code's
/// text. Returns -1, for `return video_fail(...)`.
int video_fail(char *message, size_t message_size, const char *what, int code);

#endif
