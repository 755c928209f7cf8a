// Offers in the shapes browsers and a PBX send, written for these tests (addresses from the
// documentation ranges). Lines end in CRLF as on the wire.

enum SDPFixtures {
    /// Joins lines with CRLF, with a final CRLF.
    static func crlf(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\r\n") + "\r\n"
    }

    /// Chrome: BUNDLE of audio, video and a data channel; Opus, RED, G.722, G.711, CN and
    /// telephone-event at both clocks; transport-cc; ssrc/msid; trickle ICE.
    static let chromeOffer = crlf(
        """
        v=0
        o=- 4611731400430051336 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0 1 2
        a=extmap-allow-mixed
        a=msid-semantic: WMS 5b1f0c3e-8d2a-4c71-9f3b-2e6d4a8c1b70
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=candidate:1467250027 1 udp 2122260223 192.0.2.20 54321 typ host generation 0 network-id 1 network-cost 10
        a=candidate:842163049 1 udp 1686052607 203.0.113.7 61002 typ srflx raddr 192.0.2.20 rport 54321 generation 0 network-id 1 network-cost 10
        a=ice-ufrag:EsAw
        a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
        a=ice-options:trickle
        a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F
        a=setup:actpass
        a=mid:0
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=sendrecv
        a=msid:5b1f0c3e-8d2a-4c71-9f3b-2e6d4a8c1b70 9c0e7a52-1f4b-4d3e-8a6c-7b2d5e9f0a13
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:111 opus/48000/2
        a=rtcp-fb:111 transport-cc
        a=fmtp:111 minptime=10;useinbandfec=1
        a=rtpmap:63 red/48000/2
        a=fmtp:63 111/111
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:13 CN/8000
        a=rtpmap:110 telephone-event/48000
        a=rtpmap:126 telephone-event/8000
        a=ssrc:1001211395 cname:Yq0F3mlVvZNpKg6V
        a=ssrc:1001211395 msid:5b1f0c3e-8d2a-4c71-9f3b-2e6d4a8c1b70 9c0e7a52-1f4b-4d3e-8a6c-7b2d5e9f0a13
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103
        c=IN IP4 0.0.0.0
        a=rtcp:9 IN IP4 0.0.0.0
        a=ice-ufrag:EsAw
        a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
        a=ice-options:trickle
        a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F
        a=setup:actpass
        a=mid:1
        a=extmap:14 urn:ietf:params:rtp-hdrext:toffset
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:13 urn:3gpp:video-orientation
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=sendrecv
        a=msid:5b1f0c3e-8d2a-4c71-9f3b-2e6d4a8c1b70 e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:96 VP8/90000
        a=rtcp-fb:96 goog-remb
        a=rtcp-fb:96 transport-cc
        a=rtcp-fb:96 ccm fir
        a=rtcp-fb:96 nack
        a=rtcp-fb:96 nack pli
        a=rtpmap:97 rtx/90000
        a=fmtp:97 apt=96
        a=rtpmap:102 H264/90000
        a=rtcp-fb:102 transport-cc
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
        a=rtpmap:103 rtx/90000
        a=fmtp:103 apt=102
        a=ssrc-group:FID 2212478834 3950311436
        a=ssrc:2212478834 cname:Yq0F3mlVvZNpKg6V
        a=ssrc:3950311436 cname:Yq0F3mlVvZNpKg6V
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel
        c=IN IP4 0.0.0.0
        a=ice-ufrag:EsAw
        a=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1
        a=ice-options:trickle
        a=fingerprint:sha-256 D2:FA:0E:C3:22:59:5E:14:95:69:92:3D:13:B4:84:24:2C:C2:A2:C0:3E:FD:34:8E:5E:EA:6F:AF:52:CE:E6:0F
        a=setup:actpass
        a=mid:2
        a=sctp-port:5000
        a=max-message-size:262144
        """)

    /// Firefox: fingerprint, ice-options and BUNDLE at session level; candidates (one TCP) before
    /// the other attributes; extmap-allow-mixed in the media section; telephone-event only at 8 kHz.
    static let firefoxOffer = crlf(
        """
        v=0
        o=mozilla...THIS_IS_SDPARTA-128.0 7054394236483436342 0 IN IP4 0.0.0.0
        s=-
        t=0 0
        a=fingerprint:sha-256 6B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08
        a=group:BUNDLE 0 1
        a=ice-options:trickle
        a=msid-semantic:WMS *
        m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
        c=IN IP4 0.0.0.0
        a=candidate:0 1 UDP 2122252543 192.0.2.31 61012 typ host
        a=candidate:1 1 TCP 2105524479 192.0.2.31 9 typ host tcptype active
        a=sendrecv
        a=end-of-candidates
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
        a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap-allow-mixed
        a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
        a=fmtp:101 0-15
        a=ice-pwd:e2a7b9f0c3d14e5f8a6b7c9d0e1f2a3b
        a=ice-ufrag:1a2b3c4d
        a=mid:0
        a=msid:{3f2e1d0c-b9a8-4776-8554-433221100fed} {a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}
        a=rtcp-mux
        a=rtpmap:109 opus/48000/2
        a=rtpmap:9 G722/8000/1
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:101 telephone-event/8000/1
        a=setup:actpass
        a=ssrc:2655508255 cname:{7c3b9f1e-2d4a-4b8c-9e0f-1a2b3c4d5e6f}
        m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125
        c=IN IP4 0.0.0.0
        a=sendrecv
        a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
        a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:5 urn:ietf:params:rtp-hdrext:toffset
        a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap-allow-mixed
        a=fmtp:120 max-fs=12288;max-fr=60
        a=fmtp:124 apt=120
        a=fmtp:121 max-fs=12288;max-fr=60
        a=fmtp:125 apt=121
        a=ice-pwd:e2a7b9f0c3d14e5f8a6b7c9d0e1f2a3b
        a=ice-ufrag:1a2b3c4d
        a=mid:1
        a=msid:{3f2e1d0c-b9a8-4776-8554-433221100fed} {b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e}
        a=rtcp-fb:120 nack
        a=rtcp-fb:120 nack pli
        a=rtcp-fb:120 ccm fir
        a=rtcp-fb:120 goog-remb
        a=rtcp-fb:120 transport-cc
        a=rtcp-mux
        a=rtcp-rsize
        a=rtpmap:120 VP8/90000
        a=rtpmap:124 rtx/90000
        a=rtpmap:121 VP9/90000
        a=rtpmap:125 rtx/90000
        a=setup:actpass
        a=ssrc:1371566442 cname:{7c3b9f1e-2d4a-4b8c-9e0f-1a2b3c4d5e6f}
        """)

    /// Safari sending only (a send-only transceiver): mDNS host candidate, ice-options at media level.
    static let safariSendOnlyOffer = crlf(
        """
        v=0
        o=- 1656229333038673902 2 IN IP4 127.0.0.1
        s=-
        t=0 0
        a=group:BUNDLE 0
        a=extmap-allow-mixed
        a=msid-semantic: WMS f4b2d0c8-6e1a-4f3b-8d5c-9a7e2b1c0d3f
        m=audio 64420 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
        c=IN IP4 198.51.100.44
        a=rtcp:9 IN IP4 0.0.0.0
        a=candidate:3348148302 1 udp 2113937151 6f0b8c1e-2a3d-4b5c-8e9f-0a1b2c3d4e5f.local 64420 typ host generation 0 network-cost 999
        a=candidate:1526913476 1 udp 1677729535 198.51.100.44 64420 typ srflx raddr 0.0.0.0 rport 0 generation 0 network-cost 999
        a=ice-ufrag:Xy7q
        a=ice-pwd:gT5mQ2vK9wL3nR8pZ1cB6dF4
        a=ice-options:trickle
        a=fingerprint:sha-256 3C:4E:81:0A:F2:77:B9:5D:1E:C6:08:9A:34:DB:62:F0:A5:17:C3:8E:2B:94:D0:6F:71:E8:5A:03:BC:49:26:DF
        a=setup:actpass
        a=mid:0
        a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
        a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
        a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
        a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
        a=sendonly
        a=msid:f4b2d0c8-6e1a-4f3b-8d5c-9a7e2b1c0d3f 0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d
        a=rtcp-mux
        a=rtpmap:111 opus/48000/2
        a=rtcp-fb:111 transport-cc
        a=fmtp:111 minptime=10;useinbandfec=1
        a=rtpmap:63 red/48000/2
        a=fmtp:63 111/111
        a=rtpmap:9 G722/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:8 PCMA/8000
        a=rtpmap:13 CN/8000
        a=rtpmap:110 telephone-event/48000
        a=rtpmap:126 telephone-event/8000
        a=ssrc:2893046712 cname:hB3nK8sLq1Wz5VtY
        a=ssrc:2893046712 msid:f4b2d0c8-6e1a-4f3b-8d5c-9a7e2b1c0d3f 0b9a8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d
        """)

    /// Asterisk toward a trunk peer: session-level c=, G.711 and GSM, telephone-event 101 0-16.
    static let asteriskOffer = crlf(
        """
        v=0
        o=- 1696512345 1696512345 IN IP4 198.51.100.10
        s=Asterisk
        c=IN IP4 198.51.100.10
        t=0 0
        m=audio 17832 RTP/AVP 8 0 3 101
        a=rtpmap:8 PCMA/8000
        a=rtpmap:0 PCMU/8000
        a=rtpmap:3 GSM/8000
        a=rtpmap:101 telephone-event/8000
        a=fmtp:101 0-16
        a=ptime:20
        a=maxptime:150
        a=sendrecv
        """)
}
