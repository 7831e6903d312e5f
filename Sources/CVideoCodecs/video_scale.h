// swscale contexts that know where the chroma samples sit. The legacy sws_getContext assumes centred chroma (JPEG's
// siting), while H.264, MPEG-2 and the other MPEG codecs put 4:2:0 chroma beside the even luma columns ("left"):
// converting with the wrong one shifts colour by half a pixel against luma.
#ifndef VIDEO_SCALE_H
#define VIDEO_SCALE_H

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>

/// A converter of `source_format` frames to `target_format` ones, with the chroma of each at the siting given
/// (AVCHROMA_LOC_UNSPECIFIED: swscale's default). NULL when swscale cannot convert between the formats.
struct SwsContext *video_scaler(int source_width, int source_height, enum AVPixelFormat source_format,
                                enum AVChromaLocation source_siting, int target_width, int target_height,
                                enum AVPixelFormat target_format, enum AVChromaLocation target_siting, int flags);

#endif
