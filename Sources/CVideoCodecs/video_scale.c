#include "video_scale.h"

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

// Chroma sample position in 1/256 of a luma sample from the top-left luma sample of its block, the units of
// swscale's *_chr_pos options (the table libavcodec's avcodec_enum_to_chroma_pos gives, written out because that
// function leaves FFmpeg's newer releases).
static void table_position(enum AVChromaLocation siting, int *x, int *y) {
    switch (siting) {
    case AVCHROMA_LOC_LEFT: *x = 0, *y = 128; return;
    case AVCHROMA_LOC_CENTER: *x = 128, *y = 128; return;
    case AVCHROMA_LOC_TOPLEFT: *x = 0, *y = 0; return;
    case AVCHROMA_LOC_TOP: *x = 128, *y = 0; return;
    case AVCHROMA_LOC_BOTTOMLEFT: *x = 0, *y = 256; return;
    case AVCHROMA_LOC_BOTTOM: *x = 128, *y = 256; return;
    default: *x = -513, *y = -513; return;  // swscale's "not set"
    }
}

// Only the subsampled axes get a position: swscale would otherwise shift full-resolution chroma too (a 4:2:2
// frame's rows by half a pixel for a "left" or "center" siting).
static void siting_position(enum AVPixelFormat format, enum AVChromaLocation siting, int *x, int *y) {
    const AVPixFmtDescriptor *descriptor = av_pix_fmt_desc_get(format);
    table_position(siting, x, y);
    if (descriptor == NULL || descriptor->log2_chroma_w == 0) *x = -513;
    if (descriptor == NULL || descriptor->log2_chroma_h == 0) *y = -513;
}

struct SwsContext *video_scaler(int source_width, int source_height, enum AVPixelFormat source_format,
                                enum AVChromaLocation source_siting, int target_width, int target_height,
                                enum AVPixelFormat target_format, enum AVChromaLocation target_siting, int flags) {
    struct SwsContext *context = sws_alloc_context();
    if (context == NULL) return NULL;
    int source_x, source_y, target_x, target_y;
    siting_position(source_format, source_siting, &source_x, &source_y);
    siting_position(target_format, target_siting, &target_x, &target_y);
    int status = 0;
    status |= av_opt_set_int(context, "srcw", source_width, 0);
    status |= av_opt_set_int(context, "srch", source_height, 0);
    status |= av_opt_set_int(context, "src_format", source_format, 0);
    status |= av_opt_set_int(context, "dstw", target_width, 0);
    status |= av_opt_set_int(context, "dsth", target_height, 0);
    status |= av_opt_set_int(context, "dst_format", target_format, 0);
    status |= av_opt_set_int(context, "sws_flags", flags, 0);
    status |= av_opt_set_int(context, "src_h_chr_pos", source_x, 0);
    status |= av_opt_set_int(context, "src_v_chr_pos", source_y, 0);
    status |= av_opt_set_int(context, "dst_h_chr_pos", target_x, 0);
    status |= av_opt_set_int(context, "dst_v_chr_pos", target_y, 0);
    if (status < 0 || sws_init_context(context, NULL, NULL) < 0) {
        sws_freeContext(context);
        return NULL;
    }
    return context;
}
