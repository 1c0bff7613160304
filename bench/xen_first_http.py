# dom0's side of bench/xen_http.py's "xl create -> first HTTP response": the
# unix port of MicroPython runs this in the Xen rig's dom0, right after the
# domU is unpaused, the same way for pyunik's domU and the Linux one.
#
#   micropython xen_first_http.py HOST PORT LIMIT_S
#
# Each attempt is a fresh socket whose connect may take ATTEMPT_MS. While the
# guest boots, its SYN waits in dom0's ARP queue and goes out as soon as the
# guest answers one of dom0's ARP probes (xen_http.py has dom0 ask every 50 ms
# on the bridge, 20 times, then the next attempt asks again); a refused or
# unreachable connect is tried again after PAUSE_MS (a guest whose stack is
# up before its server listens answers each try with a RST: 20 a second, not
# more). Connected, it sends GET / and reads the whole response (HTTP/1.0:
# the server closes). The wait costs dom0 about 2% of the rig's one CPU
# (measured: 0.2-0.25 s of CPU in 10 s against an absent guest, the process
# start included), which the guest shares.
# One process for the whole wait, not a wget per attempt: under nested TCG
# dom0 and the domU share one CPU, and a fork per try slows the guest it
# waits for. One line on stdout:
#   FIRST <attempts> <ms since start> <status line>
#   NEVER <attempts> <last error>
import socket
import sys
import time

ATTEMPT_MS = 1000
PAUSE_MS = 50
RESPONSE_S = 5


def get(address):
    """The response's status line; OSError when there is none yet."""
    s = socket.socket()
    try:
        s.settimeout(ATTEMPT_MS / 1000)
        s.connect(address)
        s.settimeout(RESPONSE_S)
        s.send(b"GET / HTTP/1.0\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(2048)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    status = data.split(b"\r\n", 1)[0]
    if not status.startswith(b"HTTP/1.") or b" 200 " not in status + b" ":
        raise OSError("not a 200 response: " + repr(status[:40]))
    return status.decode()


def main():
    host, port, limit_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    address = socket.getaddrinfo(host, port)[0][-1]
    start = time.ticks_ms()
    tries = 0
    last = ""
    while time.ticks_diff(time.ticks_ms(), start) < limit_s * 1000:
        tries += 1
        began = time.ticks_ms()
        try:
            status = get(address)
        except OSError as exc:
            last = str(exc)
            # A connect that failed at once (refused, unreachable) waits a
            # little; one that used its ATTEMPT_MS is tried again at once.
            if time.ticks_diff(time.ticks_ms(), began) < ATTEMPT_MS:
                time.sleep_ms(PAUSE_MS)
            continue
        print("FIRST", tries, time.ticks_diff(time.ticks_ms(), start), status)
        return
    print("NEVER", tries, last)


main()
