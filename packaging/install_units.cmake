# Runs at install time (cmake --install, and cpack's staging install), when CMAKE_INSTALL_PREFIX
# is the prefix really installed to: writes the systemd units with the binary's and the
# configuration's absolute paths for that prefix, and installs the example configuration unless
# one is already there. Set by packaging/CMakeLists.txt: EVRELAY_PACKAGING_SOURCE_DIR,
# EVRELAY_EXAMPLE_CONFIG, EVRELAY_INSTALL_WORK_DIR, EVRELAY_INSTALL_BINDIR.

string(REGEX REPLACE "(.)/+$" "\\1" evrelay_prefix "${CMAKE_INSTALL_PREFIX}")

# As GNUInstallDirs: the configuration of a /usr (or /) install lives in /etc; any other
# prefix keeps its own etc/ (make install PREFIX=/usr/local: /usr/local/etc).
if(evrelay_prefix STREQUAL "/usr" OR evrelay_prefix STREQUAL "/")
  set(EVRELAY_SYSCONFDIR /etc)
else()
  set(EVRELAY_SYSCONFDIR "${evrelay_prefix}/etc")
endif()
if(evrelay_prefix STREQUAL "/")
  set(EVRELAY_BINARY "/${EVRELAY_INSTALL_BINDIR}/evrelay")
else()
  set(EVRELAY_BINARY "${evrelay_prefix}/${EVRELAY_INSTALL_BINDIR}/evrelay")
endif()
set(EVRELAY_CONFIG_FILE "${EVRELAY_SYSCONFDIR}/evrelay/relay.conf")

# systemd reads units from /usr/lib/systemd/system and /usr/local/lib/systemd/system.
string(MD5 evrelay_prefix_hash "${evrelay_prefix}")
set(evrelay_units_dir "${EVRELAY_INSTALL_WORK_DIR}/${evrelay_prefix_hash}")
foreach(unit evrelay.service evrelay-flush.service evrelay-flush.timer)
  configure_file("${EVRELAY_PACKAGING_SOURCE_DIR}/systemd/${unit}.in" "${evrelay_units_dir}/${unit}"
    @ONLY)
  file(INSTALL "${evrelay_units_dir}/${unit}"
    DESTINATION "${evrelay_prefix}/lib/systemd/system" FILE_PERMISSIONS OWNER_READ OWNER_WRITE
    GROUP_READ WORLD_READ)
endforeach()

# An operator's edited configuration is never overwritten by a later `make install` (the Debian
# package marks it a conffile, and dpkg asks instead).
if(EXISTS "$ENV{DESTDIR}${EVRELAY_CONFIG_FILE}")
  message(STATUS "Kept: $ENV{DESTDIR}${EVRELAY_CONFIG_FILE} (the example is "
    "${evrelay_prefix}/share/doc/evrelay/examples/relay.conf)")
else()
  file(INSTALL "${EVRELAY_EXAMPLE_CONFIG}" DESTINATION "${EVRELAY_SYSCONFDIR}/evrelay"
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endif()
