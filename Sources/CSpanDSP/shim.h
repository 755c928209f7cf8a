// spandsp: DTMF detection and generation, tone generation.
#ifndef TANDEM_C_SPANDSP_H
#define TANDEM_C_SPANDSP_H
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/version.h>
#include <spandsp/dtmf.h>
#endif
