# Sourced by start.sh and stop.sh. `answers HOST PORT`: true when a Kafka broker there
# answers a Metadata request listing at least one broker — not just an open port, which
# the broker opens before it can serve. Pure bash (/dev/tcp), so no JVM starts per probe.
answers() {
  local reply
  # Metadata v4 (non-flexible, still served by Kafka 4): size 20, api 3, version 4,
  # correlation id 1, client id "probe", all topics (null array), no auto-creation.
  reply="$(timeout 2 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x01\x00\x05probe\xff\xff\xff\xff\x00" >&3
    head -c 16 <&3 | od -An -tx1 | tr -d " \n"' "$1" "$2" 2>/dev/null)" || return 1
  # size(4) correlation id(4) = 1, throttle(4), broker count(4) > 0
  [ "${#reply}" -eq 32 ] && [ "${reply:8:8}" = "00000001" ] && [ "${reply:24:8}" != "00000000" ]
}
