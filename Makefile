# Builds liblstmkit.so and installs it for C programs, found with pkg-config:
#   make                                   swift build -c release (.build/release/liblstmkit.so)
#   make install PREFIX=/opt/lstmkit       PREFIX/lib/liblstmkit.so.0.X.Y with the links
#                                          liblstmkit.so.0 (the SONAME) and liblstmkit.so,
#                                          PREFIX/include/lstmkit.h, PREFIX/lib/pkgconfig/lstmkit.pc
#   make install DESTDIR=/tmp/stage        the same tree under DESTDIR (for packagers)
#   make uninstall PREFIX=/opt/lstmkit     removes what install put there
# The installed copy is stripped and gets its SONAME here, not in Package.swift: the build tree's
# copy keeps its symbols for debugging, and the programs linked against it in place (examples/c,
# tests/c, bench, fuzz) keep finding it by its file name, liblstmkit.so, which a SONAME would
# replace with liblstmkit.so.0 in their DT_NEEDED.
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
SWIFT        ?= swift
STRIP        ?= strip
PATCHELF     ?= patchelf
INSTALL      ?= install

# The version is defined once, in the file VERSION (scripts/version.py writes it into the header
# and the Python binding).
VERSION := $(strip $(shell cat VERSION))
MAJOR   := $(word 1,$(subst ., ,$(VERSION)))
ifneq ($(words $(subst ., ,$(VERSION))),3)
$(error VERSION must hold MAJOR.MINOR.PATCH, got '$(VERSION)')
endif
SONAME  := liblstmkit.so.$(MAJOR)
REALNAME := liblstmkit.so.$(VERSION)
BUILT   := .build/release/liblstmkit.so
STAGED  := .build/install/$(REALNAME)

# `make` always asks swift, which knows what is out of date.
all:
	$(SWIFT) build -c release --product lstmkit

# `make install` rebuilds only when a source is newer than the library, so that after `make`,
# `sudo make install` does not run swift as root in the build tree, and still never installs a
# library older than its sources.
$(BUILT): Package.swift $(shell find Sources include -type f)
	$(SWIFT) build -c release --product lstmkit

$(STAGED): $(BUILT) Makefile
	mkdir -p $(dir $@)
	$(STRIP) --strip-unneeded -o $@.tmp $(BUILT)
	$(PATCHELF) --set-soname $(SONAME) $@.tmp
	mv $@.tmp $@

# lstmkit.pc names the directories relative to ${prefix} where they lie under it, so that
# pkg-config --define-prefix can relocate the tree.
pc_path = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))

install: $(STAGED)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 755 $(STAGED) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sf $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/liblstmkit.so
	$(INSTALL) -m 644 include/lstmkit.h $(DESTDIR)$(INCLUDEDIR)/lstmkit.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(call pc_path,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(call pc_path,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    lstmkit.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/lstmkit.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/liblstmkit.so $(DESTDIR)$(INCLUDEDIR)/lstmkit.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/lstmkit.pc

.PHONY: all install uninstall
