"""Drives Roost's POP3 with Python's poplib: STLS, USER/PASS, the listing commands, RETR, TOP,
DELE at QUIT, and UIDLs that survive sessions.

usage: poplib_client.py POP3_ADDR POP3S_ADDR PASSWORD
"""
import poplib
import ssl
import sys


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    plain, tls, password = addr(sys.argv[1]), addr(sys.argv[2]), sys.argv[3]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    p = poplib.POP3(*plain)
    caps = p.capa()
    assert "STLS" in caps and "USER" not in caps, caps
    p.stls(context=ctx)
    assert "USER" in p.capa()
    p.user("alice@example.test")
    p.pass_(password)
    count, size = p.stat()
    assert count == 3, count
    _, listing, _ = p.list()
    assert len(listing) == 3
    _, uidls, _ = p.uidl()
    _, lines, octets = p.retr(1)
    assert b"Subject: message 1" in lines and b".dotted line" in lines, lines
    _, top, _ = p.top(2, 0)
    assert top[-1] == b"" and b"Subject: message 2" in top, top
    p.dele(1)
    p.quit()

    p = poplib.POP3_SSL(*tls, context=ctx)
    p.user("alice@example.test")
    p.pass_(password)
    assert p.stat()[0] == 2
    _, after, _ = p.uidl()
    # The two survivors keep their UIDLs, renumbered from 1.
    old = [u.split()[1] for u in uidls[1:]]
    new = [u.split()[1] for u in after]
    assert old == new, (old, new)
    try:
        p.retr(3)
        raise SystemExit("RETR of a missing message succeeded")
    except poplib.error_proto as e:
        assert str(e).startswith("b'-ERR"), e
    p.quit()
    print("poplib: all checks passed")


if __name__ == "__main__":
    main()
