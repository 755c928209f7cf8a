// libopus: the Opus codec (RFC 6716).
#ifndef TANDEM_C_OPUS_H
#define TANDEM_C_OPUS_H
#include <opus/opus.h>
#endif
