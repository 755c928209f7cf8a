# Tandem: build, run, test and install. `make help` lists the targets.
# Every target that needs Debian packages installs the missing ones first (as root, no prompt).

SWIFT     ?= swift
PREFIX    ?= /usr/local
CONFDIR   ?= /etc/tandem
UNITDIR   ?= /etc/systemd/system
CONFIG    ?= config/tandem.yaml
RELEASE   := .build/release

# make bench: calls per load run, the measured window in seconds (after a 3 s warm-up), and how
# many alternating rounds through each gateway the comparison takes the median of.
TANDEM_LOAD_CALLS   ?= 30
TANDEM_LOAD_SECONDS ?= 20
TANDEM_LOAD_ROUNDS  ?= 3
# ... and the modes in which it then finds each gateway's capacity (most calls carried clean).
TANDEM_LOAD_CAPACITY ?= relayed,transcoded
export TANDEM_LOAD_CALLS TANDEM_LOAD_SECONDS TANDEM_LOAD_ROUNDS TANDEM_LOAD_CAPACITY

.PHONY: help deps test-deps build debug run check-config test interop-doc bench install uninstall clean

help:
	@echo "make run           install missing packages, build (release) and start tandemd with $(CONFIG)"
	@echo "make test          install missing packages and run the test suite"
	@echo "make interop-doc   rewrite the library matrix in docs/interop.md from the last make test run"
	@echo "                   (.build/interop-matrix/*.json; scripts/interop-matrix.py --check for CI)"
	@echo "make build         release build of tandemd and tandemctl"
	@echo "make bench         benchmarks (release): micro-benchmarks, the transcode pipeline against bare"
	@echo "                   libopus + libsrtp, and a load run through tandemd, rtpengine and (relayed)"
	@echo "                   tandem-floor, a minimal C relay (bench/floor/floor.c)"
	@echo "                   (TANDEM_LOAD_CALLS=$(TANDEM_LOAD_CALLS) TANDEM_LOAD_SECONDS=$(TANDEM_LOAD_SECONDS) TANDEM_LOAD_ROUNDS=$(TANDEM_LOAD_ROUNDS))"
	@echo "make check-config  check $(CONFIG) without starting"
	@echo "make install       binaries to $(PREFIX)/bin, config to $(CONFDIR), unit to $(UNITDIR), user 'tandem'"
	@echo "make deps          install the missing Debian build packages"

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test
	@scripts/install-interop.sh

build: deps
	@echo "==> building tandemd and tandemctl (release)"
	$(SWIFT) build -c release --product tandemd
	$(SWIFT) build -c release --product tandemctl

debug: deps
	$(SWIFT) build

check-config: build
	$(RELEASE)/tandemd --check-config $(CONFIG)

run: build
	@echo "==> starting tandemd with $(CONFIG)"
	@echo "    SIP: udp/tcp 127.0.0.1:5060, ws://127.0.0.1:8080 (browsers); health: http://127.0.0.1:9090/healthz"
	@echo "    demo phone: http://127.0.0.1:9090/phone/ (user 1001, password in config/profiles/web.yaml)"
	@echo "    two-way audio check: press Test call there, or dial echo (also tone, dtmf, busy, noanswer)"
	@echo "    ask it how it is from another shell: $(RELEASE)/tandemctl status (it finds the control socket"
	@echo "    in /run/tandem, or as a user without root under \$$XDG_RUNTIME_DIR/tandem or ./.tandem)"
	@echo "    stop with Ctrl-C (drains calls first)"
	$(RELEASE)/tandemd --config $(CONFIG)

test: deps test-deps
	@echo "==> running the test suite"
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

# docs/interop.md's matrix from the rows LibraryMatrixTests wrote during the last `make test`.
interop-doc:
	python3 scripts/interop-matrix.py

bench: deps
	@scripts/install-deps.sh bench
	@echo "==> building tandem-bench, tandemd and tandem-load (release)"
	$(SWIFT) build -c release --product tandem-bench
	$(SWIFT) build -c release --product tandemd
	$(SWIFT) build -c release --product tandem-load
	@echo "==> building tandem-floor (C: the least a relayed call can cost, for the load comparison)"
	$(CC) -O2 -Wall -o $(RELEASE)/tandem-floor bench/floor/floor.c -lssl -lcrypto
	@echo "==> micro-benchmarks and the transcode pipeline"
	$(SWIFT) package benchmark --target TandemBenchmarks --no-progress
	$(RELEASE)/tandem-bench
	@echo "==> load: $(TANDEM_LOAD_CALLS) calls through tandemd, rtpengine (userspace) and, relayed, tandem-floor, $(TANDEM_LOAD_ROUNDS) alternating rounds"
	$(RELEASE)/tandem-load

install: build
	@echo "==> installing tandemd and tandemctl to $(DESTDIR)$(PREFIX)/bin"
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(RELEASE)/tandemd $(RELEASE)/tandemctl $(DESTDIR)$(PREFIX)/bin/
	@if ! id tandem >/dev/null 2>&1; then \
		echo "==> creating system user 'tandem'"; \
		useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tandem; \
	fi
	@echo "==> installing configuration to $(DESTDIR)$(CONFDIR) (existing files are kept)"
	install -d -m 0750 -g tandem $(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/profiles
	@for f in tandem.yaml $$(cd config && ls profiles/*.yaml); do \
		if [ -e $(DESTDIR)$(CONFDIR)/$$f ]; then echo "    kept $(CONFDIR)/$$f"; \
		else install -m 0640 -g tandem config/$$f $(DESTDIR)$(CONFDIR)/$$f && echo "    installed $(CONFDIR)/$$f"; fi; \
	done
	@echo "==> installing systemd unit to $(DESTDIR)$(UNITDIR)/tandem.service"
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 systemd/tandem.service $(DESTDIR)$(UNITDIR)/tandem.service
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
	@echo "==> done: systemctl enable --now tandem; tandemctl status"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tandemd $(DESTDIR)$(PREFIX)/bin/tandemctl $(DESTDIR)$(UNITDIR)/tandem.service
	@echo "kept $(CONFDIR) and the 'tandem' user"

clean:
	rm -rf .build
