// FFmpeg's libraries, which CVideoCodecs drives (Swift never sees their types: its C functions take paths, sizes and
// RGB buffers).
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libswscale/swscale.h>
