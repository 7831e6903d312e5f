// H.264 in MP4 through libavformat's mp4 muxer and libavcodec's libx264 encoder; RGB becomes yuv420p through
// libswscale.
#include "CVideoCodecs.h"
#include "video_message.h"
#include "video_scale.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>

struct dg_video_writer {
    AVFormatContext *format;
    AVCodecContext *encoder;
    AVStream *stream;
    struct SwsContext *scaler;
    AVFrame *frame;
    AVPacket *packet;
    int width;
    int height;
    long frames_written;
};

void dg_video_writer_free(dg_video_writer *writer) {
    if (writer == NULL) return;
    sws_freeContext(writer->scaler);
    av_frame_free(&writer->frame);
    av_packet_free(&writer->packet);
    avcodec_free_context(&writer->encoder);
    if (writer->format != NULL) {
        if (writer->format->pb != NULL) avio_closep(&writer->format->pb);
        avformat_free_context(writer->format);
    }
    free(writer);
}

// Moves every packet the encoder has ready into the file (`frame` NULL: drains it at the end).
static int send_and_mux(dg_video_writer *writer, AVFrame *frame, char *message, size_t message_size) {
    int status = avcodec_send_frame(writer->encoder, frame);
    if (status < 0) return video_fail(message, message_size, "H.264 encoder refused a frame", status);
    for (;;) {
        status = avcodec_receive_packet(writer->encoder, writer->packet);
        if (status == AVERROR(EAGAIN) || status == AVERROR_EOF) return 0;
        if (status < 0) return video_fail(message, message_size, "H.264 encoding failed", status);
        av_packet_rescale_ts(writer->packet, writer->encoder->time_base, writer->stream->time_base);
        writer->packet->stream_index = writer->stream->index;
        status = av_interleaved_write_frame(writer->format, writer->packet);
        if (status < 0) return video_fail(message, message_size, "writing the MP4 file failed", status);
    }
}

int dg_video_writer_open(const char *path, int width, int height, int fps_num, int fps_den, int crf,
                         const char *preset, dg_video_writer **result, char *message, size_t message_size) {
    video_capture_log();
    video_clear_log();
    *result = NULL;
    if (width <= 0 || height <= 0 || width % 2 != 0 || height % 2 != 0)
        return video_fail(message, message_size, "H.264 in yuv420p needs an even, non-zero width and height", 0);
    if (fps_num <= 0 || fps_den <= 0) return video_fail(message, message_size, "frame rate must be positive", 0);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (codec == NULL)
        return video_fail(message, message_size, "this FFmpeg build has no libx264 encoder (H.264)", 0);

    dg_video_writer *writer = calloc(1, sizeof *writer);
    if (writer == NULL) return video_fail(message, message_size, "out of memory", 0);
    writer->width = width;
    writer->height = height;
    // The muxer is named rather than guessed from `path`, whose temporary name has no .mp4 extension.
    int status = avformat_alloc_output_context2(&writer->format, NULL, "mp4", path);
    if (status < 0 || writer->format == NULL) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot create an MP4 muxer", status);
    }
    writer->stream = avformat_new_stream(writer->format, NULL);
    writer->encoder = avcodec_alloc_context3(codec);
    writer->frame = av_frame_alloc();
    writer->packet = av_packet_alloc();
    if (writer->stream == NULL || writer->encoder == NULL || writer->frame == NULL || writer->packet == NULL) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "out of memory", 0);
    }

    AVCodecContext *encoder = writer->encoder;
    encoder->width = width;
    encoder->height = height;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->time_base = (AVRational){fps_den, fps_num};
    encoder->framerate = (AVRational){fps_num, fps_den};
    // Tagged, so that players convert back with the matrix and range swscale used (BT.601, limited); the primaries
    // and transfer are sRGB's, which the RGB frames are in.
    encoder->colorspace = AVCOL_SPC_SMPTE170M;
    encoder->color_range = AVCOL_RANGE_MPEG;
    encoder->color_primaries = AVCOL_PRI_BT709;
    encoder->color_trc = AVCOL_TRC_IEC61966_2_1;
    encoder->chroma_sample_location = AVCHROMA_LOC_LEFT;
    if (writer->format->oformat->flags & AVFMT_GLOBALHEADER) encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf_text[16];
    snprintf(crf_text, sizeof crf_text, "%d", crf);
    AVDictionary *options = NULL;
    av_dict_set(&options, "crf", crf_text, 0);
    av_dict_set(&options, "preset", preset, 0);
    status = avcodec_open2(encoder, codec, &options);
    av_dict_free(&options);
    if (status < 0) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot open the libx264 encoder", status);
    }
    status = avcodec_parameters_from_context(writer->stream->codecpar, encoder);
    writer->stream->time_base = encoder->time_base;
    writer->stream->avg_frame_rate = encoder->framerate;
    if (status < 0) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot set the stream parameters", status);
    }

    writer->frame->format = AV_PIX_FMT_YUV420P;
    writer->frame->width = width;
    writer->frame->height = height;
    status = av_frame_get_buffer(writer->frame, 0);
    if (status < 0) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot allocate a frame", status);
    }
    // Chroma computed from every RGB pixel (not swscale's fast path, which drops every other column), filtered down
    // to 4:2:0 at H.264's default siting, which the stream states.
    writer->scaler = video_scaler(width, height, AV_PIX_FMT_RGB24, AVCHROMA_LOC_UNSPECIFIED, width, height,
                                  AV_PIX_FMT_YUV420P, AVCHROMA_LOC_LEFT,
                                  SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP);
    if (writer->scaler == NULL) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot create the RGB to yuv420p converter", 0);
    }

    status = avio_open(&writer->format->pb, path, AVIO_FLAG_WRITE);
    if (status < 0) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot create the file", status);
    }
    // The index (moov) goes before the frames, so that players can start before the whole file has arrived.
    AVDictionary *muxer_options = NULL;
    av_dict_set(&muxer_options, "movflags", "+faststart", 0);
    status = avformat_write_header(writer->format, &muxer_options);
    av_dict_free(&muxer_options);
    if (status < 0) {
        dg_video_writer_free(writer);
        return video_fail(message, message_size, "cannot write the MP4 header", status);
    }
    *result = writer;
    return 0;
}

int dg_video_writer_write_rgb(dg_video_writer *writer, const unsigned char *rgb, char *message, size_t message_size) {
    video_clear_log();
    // The encoder may still hold the previous frame's buffer as a reference.
    int status = av_frame_make_writable(writer->frame);
    if (status < 0) return video_fail(message, message_size, "cannot allocate a frame", status);
    const uint8_t *source[1] = {rgb};
    const int source_stride[1] = {writer->width * 3};
    sws_scale(writer->scaler, source, source_stride, 0, writer->height, writer->frame->data,
              writer->frame->linesize);
    writer->frame->pts = writer->frames_written++;
    return send_and_mux(writer, writer->frame, message, message_size);
}

int dg_video_writer_finish(dg_video_writer *writer, char *message, size_t message_size) {
    video_clear_log();
    int result = send_and_mux(writer, NULL, message, message_size);
    if (result == 0) {
        int status = av_write_trailer(writer->format);
        if (status < 0) result = video_fail(message, message_size, "cannot write the MP4 index", status);
    }
    if (result == 0 && writer->format->pb != NULL) {
        int status = avio_closep(&writer->format->pb);
        if (status < 0) result = video_fail(message, message_size, "cannot close the file", status);
    }
    dg_video_writer_free(writer);
    return result;
}
