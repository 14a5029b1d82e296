"""Drives Roost with Python's smtplib, as scripts and many applications do.

usage: smtplib_client.py SMTP_ADDR SUBMISSION_ADDR SUBMISSIONS_ADDR PASSWORD
Exits non-zero with a message on the first surprise.
"""
import smtplib
import ssl
import sys
from email.message import EmailMessage


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    smtp, sub, subs, password = addr(sys.argv[1]), addr(sys.argv[2]), addr(sys.argv[3]), sys.argv[4]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # self-signed test certificate

    # Port 25 style, plain: delivery to a local user; relaying refused.
    with smtplib.SMTP(*smtp) as s:
        code, caps = s.ehlo("python.test")
        assert code == 250 and b"PIPELINING" in caps and b"STARTTLS" in caps, caps
        assert b"AUTH" not in caps, "no AUTH in clear text"
        s.sendmail("py@remote.test", ["alice@example.test"], "Subject: plain\r\n\r\nhello\r\n")
        try:
            s.sendmail("py@remote.test", ["victim@elsewhere.test"], "Subject: relay\r\n\r\nx\r\n")
            raise SystemExit("relay was accepted")
        except smtplib.SMTPRecipientsRefused as e:
            code, msg = e.recipients["victim@elsewhere.test"]
            assert code == 554 and msg.startswith(b"5.7.1"), (code, msg)

    # STARTTLS on port 25, then a message with several recipients, one refused.
    with smtplib.SMTP(*smtp) as s:
        s.starttls(context=ctx)
        refused = s.sendmail("py@remote.test", ["alice@example.test", "nobody@example.test", "bob@example.test"],
                             "Subject: tls\r\n\r\nover TLS\r\n")
        assert list(refused) == ["nobody@example.test"], refused
        assert refused["nobody@example.test"][0] == 550

    # Submission with STARTTLS and login; an EmailMessage with UTF-8 (SMTPUTF8 not needed).
    with smtplib.SMTP(*sub) as s:
        try:
            s.login("alice@example.test", password)
            raise SystemExit("login without TLS was accepted")
        except smtplib.SMTPNotSupportedError:
            pass
        s.starttls(context=ctx)
        s.login("alice@example.test", password)
        m = EmailMessage()
        m["From"] = "alice@example.test"
        m["To"] = "bob@example.test"
        m["Subject"] = "Grüße 你好"
        m.set_content("Unicode body: 你好, Grüße\n")
        s.send_message(m)
        try:
            s.sendmail("boss@example.test", ["bob@example.test"], "Subject: spoof\r\n\r\nx\r\n")
            raise SystemExit("spoofed sender accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 553, e

    # Implicit TLS (465) with a wrong then a right password; SMTPUTF8 address.
    with smtplib.SMTP_SSL(*subs, context=ctx) as s:
        try:
            s.login("alice@example.test", "not-the-password")
            raise SystemExit("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535, e
        s.login("alice@example.test", password)
        s.sendmail("alice@example.test", ["alice@example.test"], "Subject: self\r\n\r\nnote\r\n")
        s.sendmail("alice@example.test", ["用户@例子.测试"], "Subject: idn\r\n\r\nx\r\n".encode(),
                   mail_options=["SMTPUTF8"])
        # A size over the limit is refused by the declared SIZE.
        try:
            s.sendmail("alice@example.test", ["alice@example.test"], "x" * 10, mail_options=["SIZE=999999999999"])
            raise SystemExit("oversize accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 552, e
        s.sendmail("alice@example.test", ["alice@example.test"], "Subject: last\r\n\r\nbye\r\n")
    print("smtplib: all checks passed")


if __name__ == "__main__":
    main()
