#!/bin/bash
# Docker HEALTHCHECK of rserve-base: healthy when Rserve answers on the QAP port
# with its 32-byte banner ("Rsrv0103QAP1...").
set -u
export LC_ALL=C

port="${QAP_PORT:-6311}"

if ! exec 3<>"/dev/tcp/127.0.0.1/${port}"; then
    echo "no listener on 127.0.0.1:${port}"
    exit 1
fi

banner=""
IFS= read -r -N 32 -t 2 banner <&3
exec 3<&- 3>&-

if [[ "$banner" == Rsrv* ]]; then
    echo "Rserve banner: ${banner:0:12}"
    exit 0
fi
echo "unexpected banner on 127.0.0.1:${port}: ${banner:0:12}"
exit 1
