// spandsp: DTMF detection and generation, G.711 packet loss concealment.
#ifndef TANDEM_C_SPANDSP_H
#define TANDEM_C_SPANDSP_H
#include <stddef.h>
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/version.h>
#include <spandsp/logging.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#include <spandsp/plc.h>
#endif
