#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/avutil.h>
#include <libavutil/imgutils.h>
#include <libavutil/display.h>
#include <libavutil/error.h>
#include <libavutil/opt.h>

/* Function-like and compound macros Swift cannot import. */
static inline int csd_averror_eof(void) { return AVERROR_EOF; }
static inline int csd_averror_eagain(void) { return AVERROR(EAGAIN); }
static inline int64_t csd_av_nopts_value(void) { return AV_NOPTS_VALUE; }
static inline AVRational csd_av_time_base_q(void) { return AV_TIME_BASE_Q; }
