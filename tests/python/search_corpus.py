#!/usr/bin/env python3
"""Writes a search test corpus: N messages (DIR/0001.eml …) of random words, in many charsets and
transfer encodings, some with HTML bodies, attachments and encoded-word headers.

usage: search_corpus.py DIR N SEED"""
import base64
import os
import quopri
import random
import sys

LATIN = ("invoice meeting report garden holiday budget review contract picnic ticket "
         "quarterly deadline birthday recipe football weather library museum").split()
GERMAN = "Überweisung Rechnung Grüße Straße Käse Öffnungszeiten".split()
CHINESE = ["会议记录", "发票", "中文邮件", "生日快乐", "季度报告", "天气预报"]
JAPANESE = ["見積書", "会議", "こんにちは", "ありがとう"]
KOREAN = ["회의", "안녕하세요", "감사합니다"]

CHARSETS = [
    ("utf-8", LATIN + GERMAN + CHINESE + JAPANESE + KOREAN),
    ("iso-8859-1", LATIN + GERMAN),
    ("gb2312", LATIN + CHINESE),
    ("gbk", LATIN + CHINESE),
    ("big5", LATIN + ["會議記錄", "發票", "天氣預報"]),
    ("shift_jis", LATIN + JAPANESE),
    ("iso-2022-jp", LATIN + JAPANESE),
    ("euc-kr", LATIN + KOREAN),
]


def words(rng, vocab, n):
    return " ".join(rng.choice(vocab) for _ in range(n))


def encoded_word(text, charset):
    raw = text.encode(charset)
    return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode())


def body_part(text, charset, encoding, html):
    raw = (("<html><body><p>%s</p></body></html>" % text) if html else text).encode(charset)
    if encoding == "base64":
        data = base64.encodebytes(raw)
    elif encoding == "quoted-printable":
        data = quopri.encodestring(raw)
    else:
        encoding = "8bit" if any(b > 127 for b in raw) else "7bit"
        data = raw
    kind = "html" if html else "plain"
    return (("Content-Type: text/%s; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n"
             % (kind, charset, encoding)).encode() + data + b"\r\n")


def message(rng, i):
    """One message as bytes (8-bit parts stay in their own charset)."""
    charset, vocab = rng.choice(CHARSETS)
    subject = words(rng, vocab, rng.randint(1, 4))
    body = words(rng, vocab, rng.randint(5, 60))
    encoding = rng.choice(["base64", "quoted-printable", "plain"])
    if charset == "iso-2022-jp":
        encoding = rng.choice(["base64", "plain"])
    html = rng.random() < 0.25
    sender = rng.choice(["Alice Smith <alice@example.test>", "bob@remote.test",
                         "%s <zhang@example.cn>" % encoded_word("张三", "utf-8")])
    head = ("From: %s\r\nTo: %s\r\nCc: %s\r\nSubject: %s\r\nMessage-ID: <m%d@corpus.test>\r\n"
            "Date: Sat, 28 Nov 2026 10:%02d:00 +0000\r\nMIME-Version: 1.0\r\n"
            % (sender, rng.choice(["team@example.test", "Carol <carol@example.test>"]),
               rng.choice(["dave@example.test", "finance@remote.test"]),
               encoded_word(subject, charset) if any(ord(c) > 127 for c in subject) else subject,
               i, i % 60)).encode()
    part = body_part(body, charset, encoding, html)
    if rng.random() < 0.3:
        boundary = "b%d" % i
        att = base64.b64encode(os.urandom(300)).decode()
        name = rng.choice(["report.pdf", "photo.jpg", "budget-%d.xlsx" % i])
        return (head + ('Content-Type: multipart/mixed; boundary="%s"\r\n\r\n--%s\r\n'
                        % (boundary, boundary)).encode() + part
                + ('--%s\r\nContent-Type: application/octet-stream; name="%s"\r\n'
                   'Content-Disposition: attachment; filename="%s"\r\n'
                   "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n"
                   % (boundary, name, name, att, boundary)).encode())
    return head + part


def main():
    out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    for i in range(n):
        with open(os.path.join(out, "%04d.eml" % i), "wb") as f:
            f.write(message(rng, i))


if __name__ == "__main__":
    main()
