// Any video libavformat demuxes and libavcodec decodes, converted to RGB by libswscale.
#include "CVideoCodecs.h"
#include "video_message.h"
#include "video_scale.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dg_video_reader {
    AVFormatContext *format;
    AVCodecContext *decoder;
    struct SwsContext *scaler;
    // What `scaler` converts from: rebuilt when a frame differs.
    int scaler_width;
    int scaler_height;
    int scaler_format;
    int scaler_siting;
    AVFrame *frame;
    AVPacket *packet;
    int stream_index;
    int width;
    int height;
    int draining;
    int finished;
};

void dg_video_reader_free(dg_video_reader *reader) {
    if (reader == NULL) return;
    sws_freeContext(reader->scaler);
    av_frame_free(&reader->frame);
    av_packet_free(&reader->packet);
    avcodec_free_context(&reader->decoder);
    avformat_close_input(&reader->format);
    free(reader);
}

// Opens the container and finds its best video stream; -1 with a message when there is none.
static int open_container(const char *path, AVFormatContext **format, int *stream_index, char *message,
                          size_t message_size) {
    int status = avformat_open_input(format, path, NULL, NULL);
    if (status < 0) return video_fail(message, message_size, "cannot open as a video", status);
    status = avformat_find_stream_info(*format, NULL);
    if (status < 0) return video_fail(message, message_size, "cannot read the stream information", status);
    *stream_index = av_find_best_stream(*format, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (*stream_index < 0) return video_fail(message, message_size, "the file has no video stream", 0);
    return 0;
}

// The number of packets of the video stream, read through without decoding (a separate pass: not every container
// can seek back to its start, but every file can be opened again).
static long count_packets(const char *path, char *message, size_t message_size) {
    AVFormatContext *format = NULL;
    int stream_index = -1;
    if (open_container(path, &format, &stream_index, message, message_size) < 0) {
        avformat_close_input(&format);
        return -1;
    }
    AVPacket *packet = av_packet_alloc();
    long count = 0;
    int status;
    while (packet != NULL && (status = av_read_frame(format, packet)) >= 0) {
        if (packet->stream_index == stream_index) count++;
        av_packet_unref(packet);
    }
    av_packet_free(&packet);
    avformat_close_input(&format);
    return count;
}

int dg_video_reader_open(const char *path, dg_video_reader **result, dg_video_info *info, char *message,
                         size_t message_size) {
    video_capture_log();
    video_clear_log();
    *result = NULL;
    memset(info, 0, sizeof *info);
    dg_video_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL) return video_fail(message, message_size, "out of memory", 0);
    if (open_container(path, &reader->format, &reader->stream_index, message, message_size) < 0) {
        dg_video_reader_free(reader);
        return -1;
    }
    AVStream *stream = reader->format->streams[reader->stream_index];
    AVCodecParameters *parameters = stream->codecpar;
    const AVCodec *codec = avcodec_find_decoder(parameters->codec_id);
    if (codec == NULL) {
        char text[96];
        snprintf(text, sizeof text, "no decoder for the video codec %s", avcodec_get_name(parameters->codec_id));
        dg_video_reader_free(reader);
        return video_fail(message, message_size, text, 0);
    }
    if (parameters->width <= 0 || parameters->height <= 0 || parameters->width > DG_VIDEO_MAX_SIDE ||
        parameters->height > DG_VIDEO_MAX_SIDE ||
        (long long)parameters->width * parameters->height > DG_VIDEO_MAX_PIXELS) {
        char text[160];
        snprintf(text, sizeof text,
                 "video frames of %d x %d pixels are outside what the reader accepts (1 to %d per side, at most %d "
                 "pixels)",
                 parameters->width, parameters->height, DG_VIDEO_MAX_SIDE, DG_VIDEO_MAX_PIXELS);
        dg_video_reader_free(reader);
        return video_fail(message, message_size, text, 0);
    }
    reader->decoder = avcodec_alloc_context3(codec);
    reader->frame = av_frame_alloc();
    reader->packet = av_packet_alloc();
    if (reader->decoder == NULL || reader->frame == NULL || reader->packet == NULL) {
        dg_video_reader_free(reader);
        return video_fail(message, message_size, "out of memory", 0);
    }
    int status = avcodec_parameters_to_context(reader->decoder, parameters);
    if (status >= 0) status = avcodec_open2(reader->decoder, codec, NULL);
    if (status < 0) {
        dg_video_reader_free(reader);
        return video_fail(message, message_size, "cannot open the video decoder", status);
    }
    long count = count_packets(path, message, message_size);
    if (count < 0) {
        dg_video_reader_free(reader);
        return -1;
    }

    reader->width = parameters->width;
    reader->height = parameters->height;
    AVRational rate = stream->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = (AVRational){0, 1};
    info->width = reader->width;
    info->height = reader->height;
    info->fps_num = rate.num;
    info->fps_den = rate.den;
    info->frame_count = count;
    snprintf(info->codec, sizeof info->codec, "%s", codec->name);
    snprintf(info->format, sizeof info->format, "%s", reader->format->iformat->name);
    *result = reader;
    return 0;
}

// Whether a pixel format stores full-range ("JPEG") luma and chroma by its definition.
static int is_full_range_format(enum AVPixelFormat format) {
    return format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ422P || format == AV_PIX_FMT_YUVJ444P ||
           format == AV_PIX_FMT_YUVJ440P || format == AV_PIX_FMT_YUVJ411P;
}

static int convert(dg_video_reader *reader, unsigned char *rgb, char *message, size_t message_size) {
    AVFrame *frame = reader->frame;
    if (reader->scaler == NULL || frame->width != reader->scaler_width || frame->height != reader->scaler_height ||
        frame->format != reader->scaler_format || (int)frame->chroma_location != reader->scaler_siting) {
        sws_freeContext(reader->scaler);
        reader->scaler = video_scaler(frame->width, frame->height, frame->format, frame->chroma_location,
                                      reader->width, reader->height, AV_PIX_FMT_RGB24, AVCHROMA_LOC_UNSPECIFIED,
                                      SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT);
        reader->scaler_width = frame->width;
        reader->scaler_height = frame->height;
        reader->scaler_format = frame->format;
        reader->scaler_siting = (int)frame->chroma_location;
    }
    if (reader->scaler == NULL) {
        const char *name = av_get_pix_fmt_name(frame->format);
        char text[96];
        snprintf(text, sizeof text, "cannot convert %s frames to RGB", name == NULL ? "these" : name);
        return video_fail(message, message_size, text, 0);
    }
    // The stream's own matrix and range (swscale's are BT.601 and limited range otherwise).
    int colorspace = frame->colorspace == AVCOL_SPC_UNSPECIFIED ? SWS_CS_DEFAULT : (int)frame->colorspace;
    int full_range = frame->color_range == AVCOL_RANGE_JPEG || is_full_range_format(frame->format);
    sws_setColorspaceDetails(reader->scaler, sws_getCoefficients(colorspace), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
    uint8_t *target[1] = {rgb};
    const int target_stride[1] = {reader->width * 3};
    sws_scale(reader->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0, frame->height, target,
              target_stride);
    return 1;
}

int dg_video_reader_next(dg_video_reader *reader, unsigned char *rgb, char *message, size_t message_size) {
    video_clear_log();
    while (!reader->finished) {
        av_frame_unref(reader->frame);
        int status = avcodec_receive_frame(reader->decoder, reader->frame);
        if (status >= 0) return rgb == NULL ? 1 : convert(reader, rgb, message, message_size);
        if (status == AVERROR_EOF) {
            reader->finished = 1;
            break;
        }
        if (status != AVERROR(EAGAIN)) return video_fail(message, message_size, "cannot decode a frame", status);
        if (reader->draining) return video_fail(message, message_size, "the decoder stalled while draining", 0);
        // The decoder wants input: the next packet of the video stream, or the end-of-stream signal.
        for (;;) {
            status = av_read_frame(reader->format, reader->packet);
            if (status == AVERROR_EOF) {
                reader->draining = 1;
                status = avcodec_send_packet(reader->decoder, NULL);
                break;
            }
            if (status < 0) return video_fail(message, message_size, "cannot read the next packet", status);
            if (reader->packet->stream_index != reader->stream_index) {
                av_packet_unref(reader->packet);
                continue;
            }
            status = avcodec_send_packet(reader->decoder, reader->packet);
            av_packet_unref(reader->packet);
            break;
        }
        if (status < 0 && status != AVERROR_EOF)
            return video_fail(message, message_size, "the decoder refused a packet", status);
    }
    return 0;
}
