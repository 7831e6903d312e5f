// Video files through FFmpeg's libraries (libavformat, libavcodec, libswscale), wrapped so that Swift sees only
// paths, sizes and 8-bit RGB buffers (rows from the top, channels interleaved). Each function returns 0 on success
// (dg_video_reader_next: 1 for a frame, 0 at the end) or -1 with a message (NUL-terminated, at most `message_size`
// bytes) that gives FFmpeg's own words where it had some. FFmpeg's log output is captured for those messages and
// never printed.
#ifndef CVIDEOCODECS_H
#define CVIDEOCODECS_H

#include <stddef.h>

/// The largest frame the reader accepts, checked from the stream header before any buffer is allocated (the bounds
/// the image decoders use).
#define DG_VIDEO_MAX_SIDE 32768
#define DG_VIDEO_MAX_PIXELS 67108864

typedef struct dg_video_writer dg_video_writer;

/// Creates `path` as an MP4 file holding H.264 (libx264, yuv420p, BT.601 limited range, tagged so) of `width ×
/// height` frames (both even) at `fps_num / fps_den` frames per second, with x264's constant rate factor `crf`
/// (0…51, lower is better) and speed preset `preset` ("medium", …). The file is named by `path` alone: the caller
/// picks a temporary name and renames it once finished.
int dg_video_writer_open(const char *path, int width, int height, int fps_num, int fps_den, int crf,
                         const char *preset, dg_video_writer **writer, char *message, size_t message_size);

/// Encodes the next frame: `width × height × 3` bytes of RGB.
int dg_video_writer_write_rgb(dg_video_writer *writer, const unsigned char *rgb, char *message, size_t message_size);

/// Drains the encoder, writes the MP4 index and closes the file. Frees the writer whether it succeeds or not.
int dg_video_writer_finish(dg_video_writer *writer, char *message, size_t message_size);

/// Frees a writer that will not be finished (the file it wrote is incomplete; the caller removes it).
void dg_video_writer_free(dg_video_writer *writer);

typedef struct dg_video_reader dg_video_reader;

/// What the reader learnt from the file's header: the first video stream's frame size, its frame rate (the average
/// rate the container states, else the codec's; 0/1 when neither is known), the number of frames (counted from the
/// stream's packets, one per frame in every common format), the codec's and the container's short names.
typedef struct {
    int width;
    int height;
    int fps_num;
    int fps_den;
    long frame_count;
    char codec[32];
    char format[32];
} dg_video_info;

/// Opens the video file at `path` (any container and codec this FFmpeg build reads) and fills `info`.
int dg_video_reader_open(const char *path, dg_video_reader **reader, dg_video_info *info, char *message,
                         size_t message_size);

/// Decodes the next frame in presentation order. With `rgb` non-NULL it is converted (the stream's colour matrix
/// and range as tagged, BT.601 limited range when untagged) into `width × height × 3` bytes of RGB at the size
/// `info` gave, scaled if the stream changes size; with NULL it is skipped unconverted. Returns 1 for a frame, 0
/// after the last one, -1 on error.
int dg_video_reader_next(dg_video_reader *reader, unsigned char *rgb, char *message, size_t message_size);

/// Closes the file and frees the reader.
void dg_video_reader_free(dg_video_reader *reader);

#endif
