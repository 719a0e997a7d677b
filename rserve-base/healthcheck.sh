#!/bin/bash
# Docker HEALTHCHECK of rserve-base: healthy when Rserve answers on the QAP
# port. On connect Rserve sends either the 32-byte QAP1 banner
# ("Rsrv0103QAP1...", eval mode) or, in OCAP mode, an "RsOC" message holding
# the capabilities; the first four bytes tell which.
set -u
export LC_ALL=C

port="${QAP_PORT:-6311}"

if ! exec 3<>"/dev/tcp/127.0.0.1/${port}"; then
    echo "no listener on 127.0.0.1:${port}"
    exit 1
fi

magic=""
IFS= read -r -N 4 -t 2 magic <&3 2>/dev/null
exec 3<&- 3>&-

case "$magic" in
    Rsrv | RsOC)
        echo "Rserve answers on 127.0.0.1:${port} (${magic})"
        exit 0
        ;;
esac
echo "unexpected greeting on 127.0.0.1:${port}: ${magic:-nothing}"
exit 1
