"""C2SP signed notes and their keys, against the examples of Go's sumdb/note package."""

from __future__ import annotations

import pytest

from hotline.server.audit import (
    BadSignature,
    MalformedKey,
    MalformedNote,
    Signer,
    UnknownKey,
    Verifier,
    generate_key,
    key_id,
    open_note,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)

# Keys and signatures published with golang.org/x/mod/sumdb/note's tests.
PETER_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb"
    "6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33W"
    "Wd1RvMc+QQ=\n"
)


class TestKnownAnswers:
    def test_signer_key_derives_the_published_verifier_key(self) -> None:
        signer = parse_signer_key(PETER_SIGNER)
        assert signer.name == "PeterNeumann"
        assert signer.key_id == 0xC74F20A3
        assert signer.verifier.encode() == PETER
        assert signer.encode() == PETER_SIGNER
        assert parse_verifier_key(PETER) == signer.verifier

    def test_key_id(self) -> None:
        verifier = parse_verifier_key(ENOCH)
        assert key_id("EnochRoot", verifier.public_key) == 0xAF0CFE78

    def test_signature_is_byte_for_byte_the_published_one(self) -> None:
        assert sign_note(TEXT, parse_signer_key(PETER_SIGNER)) == TEXT + "\n" + PETER_SIG

    def test_open_verifies_only_trusted_keys(self) -> None:
        note = open_note(TEXT + "\n" + PETER_SIG + ENOCH_SIG, parse_verifier_key(PETER))
        assert note.text == TEXT
        assert [(s.name, s.key_id) for s in note.signatures] == [("PeterNeumann", 0xC74F20A3)]

    def test_open_verifies_every_trusted_key(self) -> None:
        trusted = [parse_verifier_key(PETER), parse_verifier_key(ENOCH)]
        note = open_note((TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode(), trusted)
        assert [s.name for s in note.signatures] == ["PeterNeumann", "EnochRoot"]

    def test_repeated_signatures_count_once(self) -> None:
        note = open_note(TEXT + "\n" + PETER_SIG + PETER_SIG, parse_verifier_key(PETER))
        assert len(note.signatures) == 1


class TestKeys:
    def test_generated_keys_round_trip(self) -> None:
        signer, verifier = generate_key("hotline.example/exercise-7")
        again = parse_signer_key(signer.encode())
        assert again.verifier == verifier
        assert parse_verifier_key(verifier.encode()) == verifier
        assert verifier.verify(b"hi", again.sign(b"hi"))
        assert not verifier.verify(b"ho", again.sign(b"hi"))

    def test_signer_repr_hides_the_private_key(self) -> None:
        signer = parse_signer_key(PETER_SIGNER)
        assert "AYEKFALV" not in repr(signer)
        assert "c74f20a3" in repr(signer)

    @pytest.mark.parametrize("name", ["", "two words", "a+b", "tab\there"])
    def test_invalid_names(self, name: str) -> None:
        with pytest.raises(MalformedKey):
            generate_key(name)
        with pytest.raises(MalformedKey):
            Signer(name, bytes(32))

    def test_every_mangled_verifier_key_is_refused(self) -> None:
        # As in Go's TestNewVerifier: every proper substring and every one-byte change.
        key = PETER
        for i in range(len(key) + 1):
            for j in range(i + 1, len(key) + 1):
                if (i, j) != (0, len(key)):
                    with pytest.raises(MalformedKey):
                        parse_verifier_key(key[i:j])
        for i in range(len(key)):
            with pytest.raises(MalformedKey):
                parse_verifier_key(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])

    def test_every_mangled_signer_key_is_refused(self) -> None:
        key = PETER_SIGNER
        for i in range(len(key)):
            with pytest.raises(MalformedKey):
                parse_signer_key(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])
            with pytest.raises(MalformedKey):
                parse_signer_key(key[:i])

    @pytest.mark.parametrize(
        ("key", "reason"),
        [
            # Wrong key length and unknown algorithm, each with a key id made to match.
            (
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
                "base64",
            ),
            ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "Ed25519"),
            ("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hex"),
            (
                "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "does not match",
            ),
        ],
    )
    def test_refusals_say_why(self, key: str, reason: str) -> None:
        with pytest.raises(MalformedKey, match=reason):
            parse_verifier_key(key)

    def test_signer_key_must_say_private(self) -> None:
        with pytest.raises(MalformedKey, match="PRIVATE"):
            parse_signer_key(PETER_SIGNER.replace("PRIVATE+KEY", "PUBLIC+KEY"))

    def test_verifier_needs_a_32_byte_key(self) -> None:
        with pytest.raises(MalformedKey, match="32 bytes"):
            Verifier("PeterNeumann", bytes(31))


class TestOpen:
    @pytest.mark.parametrize(
        "note",
        [
            TEXT,
            TEXT + "\n",
            TEXT + "\n" + PETER_SIG[:-1],
            "\x01" + TEXT + "\n" + PETER_SIG,
            TEXT
            + "\n"
            + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
            "gKvqfqdngotpRZb6KE6RyyBwJnAM=",
            TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
            TEXT + "\n" + PETER_SIG.replace("— ", "- "),
            TEXT + "\n" + "— PeterNeumann AAAA\n",  # too short to hold a key id and signature
            TEXT + "\n" + PETER_SIG * 101,
        ],
    )
    def test_malformed_notes(self, note: str) -> None:
        with pytest.raises(MalformedNote):
            open_note(note, parse_verifier_key(PETER))

    def test_note_that_is_not_utf8(self) -> None:
        with pytest.raises(MalformedNote, match="UTF-8"):
            parse_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode())
        with pytest.raises(MalformedNote, match="UTF-8"):
            parse_note("\udc80" + TEXT + "\n" + PETER_SIG)

    def test_altered_signature(self) -> None:
        note = TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
        with pytest.raises(BadSignature, match=r"PeterNeumann\+c74f20a3"):
            open_note(note, parse_verifier_key(PETER))

    def test_altered_text(self) -> None:
        note = TEXT.replace("answer", "Answer") + "\n" + PETER_SIG
        with pytest.raises(BadSignature, match="altered"):
            open_note(note, parse_verifier_key(PETER))

    def test_untrusted_key(self) -> None:
        with pytest.raises(UnknownKey, match=r"signed by EnochRoot\+af0cfe78"):
            open_note(TEXT + "\n" + ENOCH_SIG, parse_verifier_key(PETER))

    def test_same_name_other_key_is_not_trusted(self) -> None:
        _, impostor = generate_key("PeterNeumann")
        with pytest.raises(UnknownKey):
            open_note(TEXT + "\n" + PETER_SIG, impostor)

    def test_no_trusted_keys(self) -> None:
        with pytest.raises(UnknownKey, match="none"):
            open_note(TEXT + "\n" + PETER_SIG, [])

    def test_text_may_hold_blank_lines(self) -> None:
        signer, verifier = generate_key("poet")
        text = "Ognuno sta solo sul cuor della terra\n\ned è subito sera.\n"
        assert open_note(sign_note(text, signer), verifier).text == text


class TestSign:
    @pytest.mark.parametrize("text", ["no newline", "bell\x07\n"])
    def test_refuses_bad_text(self, text: str) -> None:
        with pytest.raises(MalformedNote):
            sign_note(text, parse_signer_key(PETER_SIGNER))

    def test_needs_a_signer(self) -> None:
        with pytest.raises(MalformedNote, match="at least one"):
            sign_note(TEXT)

    def test_several_signers(self) -> None:
        first, first_verifier = generate_key("first")
        second, second_verifier = generate_key("second")
        note = sign_note(TEXT, first, second)
        assert len(parse_note(note).signatures) == 2
        assert open_note(note, second_verifier).signatures[0].name == "second"
        assert open_note(note, first_verifier).signatures[0].name == "first"
