"""Drives Roost's IMAP with Python's imaplib: STARTTLS and implicit TLS, LIST, SELECT, FETCH,
SEARCH, STORE, APPEND, COPY, EXPUNGE, as mail scripts and many tools do.

usage: imaplib_client.py IMAP_ADDR IMAPS_ADDR PASSWORD
"""
import imaplib
import ssl
import sys


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def ok(result):
    typ, data = result
    assert typ == "OK", (typ, data)
    return data


def main():
    plain, tls, password = addr(sys.argv[1]), addr(sys.argv[2]), sys.argv[3]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    m = imaplib.IMAP4(*plain)
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
    m.starttls(ssl_context=ctx)
    ok(m.login("alice@example.test", password))
    boxes = ok(m.list())
    assert any(b'\\Sent' in b for b in boxes), boxes
    assert ok(m.select("INBOX")) == [b"2"]
    typ, data = m.fetch("1", "(RFC822)")
    assert typ == "OK" and b"Subject: hello world" in data[0][1], data
    assert ok(m.search(None, "SUBJECT", '"second"')) == [b"2"]
    assert ok(m.search(None, "UNSEEN")) == [b"2"], "RFC822 fetch set \\Seen on 1"
    ok(m.store("2", "+FLAGS", "(\\Flagged)"))
    assert ok(m.search(None, "FLAGGED")) == [b"2"]
    ok(m.append("Sent", "(\\Seen)", None, b"From: alice@example.test\r\nSubject: sent copy\r\n\r\nhi\r\n"))
    ok(m.copy("1:2", "Archive"))
    ok(m.store("1", "+FLAGS", "(\\Deleted)"))
    assert ok(m.expunge()) == [b"1"]
    m.logout()

    m = imaplib.IMAP4_SSL(*tls, ssl_context=ctx)
    ok(m.login("alice@example.test", password))
    ok(m.select("Archive", readonly=True))
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK" and len([d for d in data if isinstance(d, tuple)]) == 2, data
    status = ok(m.status("Sent", "(MESSAGES UNSEEN)"))
    assert status == [b'"Sent" (MESSAGES 1 UNSEEN 0)'], status
    typ, data = m.store("1", "+FLAGS", "(\\Seen)")
    assert typ == "NO" and b"READ-ONLY" in data[0], (typ, data)
    m.logout()
    print("imaplib: all checks passed")


if __name__ == "__main__":
    main()
