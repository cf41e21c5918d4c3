/* bigmail.c — writes one big test message, fast, for the specs that move and save them:
 *
 *   build/bigmail OUT base64 SIZE SEED   a text part and an attachment of SIZE pseudo-random
 *                                        bytes, base64 in 76-character lines
 *   build/bigmail OUT qp SIZE SEED       a text/plain UTF-8 quoted-printable body of about SIZE
 *                                        bytes of text, soft line breaks included, ending in a
 *                                        long line that holds "NEEDLE-AT-THE-END"
 *
 * OUT is the message (CRLF line ends); OUT.payload what a reader gets back: the attachment's
 * bytes, or the decoded text. The specs compare their SHA-256 with what comes back. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void base64_message(FILE *out, FILE *payload, size_t size)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fputs("From: Big <big@example.org>\r\nTo: alice@example.org\r\nSubject: a big attachment\r\n"
          "Message-ID: <big-base64@example.org>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n"
          "--BIG\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe file is attached.\r\n"
          "--BIG\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
          "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n", out);
    unsigned char in[57];
    char line[80];
    for (size_t done = 0; done < size;) {
        size_t n = size - done < sizeof in ? size - done : sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(rng() >> 24);
        fwrite(in, 1, n, payload);
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                         (i + 2 < n ? in[i + 2] : 0);
            line[o++] = abc[v >> 18 & 63];
            line[o++] = abc[v >> 12 & 63];
            line[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
            line[o++] = i + 2 < n ? abc[v & 63] : '=';
        }
        line[o++] = '\r';
        line[o++] = '\n';
        fwrite(line, 1, o, out);
        done += n;
    }
    fputs("--BIG--\r\n", out);
}

/* One line of text encoded quoted-printable: 76 characters at most, "=" then CRLF between. */
static void qp_line(FILE *out, const unsigned char *s, size_t n)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        char enc[4];
        int k;
        if (s[i] == '=' || s[i] >= 0x80 || (s[i] == ' ' && i + 1 == n))
            k = snprintf(enc, sizeof enc, "=%02X", s[i]);
        else
            k = (enc[0] = (char)s[i], 1);
        if (col + (size_t)k > 75) {
            fputs("=\r\n", out);
            col = 0;
        }
        fwrite(enc, 1, (size_t)k, out);
        col += (size_t)k;
    }
    fputs("\r\n", out);
}

static void qp_message(FILE *out, FILE *payload, size_t size)
{
    static const char *const words[] = { "Grüße", "aus", "Köln", "=", "the", "quick", "brown",
                                         "fox", "jumps", "über", "den", "faulen", "Hund",
                                         "naïve", "café", "x=y", "€5" };
    fputs("From: Big <big@example.org>\r\nTo: alice@example.org\r\nSubject: a big text\r\n"
          "Message-ID: <big-qp@example.org>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Transfer-Encoding: quoted-printable\r\n\r\n", out);
    char line[400];
    for (size_t done = 0; done < size;) {
        size_t n = 0, want = 20 + rng() % 200;
        while (n < want) {
            const char *w = words[rng() % (sizeof words / sizeof words[0])];
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", w);
        }
        qp_line(out, (const unsigned char *)line, n);
        fwrite(line, 1, n, payload);
        fputs("\r\n", payload);
        done += n + 2;
    }
    const char *last = "and at the very end, far past any first mebibyte, a line long enough to be "
                       "broken softly: NEEDLE-AT-THE-END, with = signs and Grüße around it";
    qp_line(out, (const unsigned char *)last, strlen(last));
    fputs(last, payload);
    fputs("\r\n", payload);
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[2], "base64") != 0 && strcmp(argv[2], "qp") != 0)) {
        fprintf(stderr, "usage: bigmail OUT base64|qp SIZE SEED\n");
        return 2;
    }
    char ppath[4096];
    snprintf(ppath, sizeof ppath, "%s.payload", argv[1]);
    FILE *out = fopen(argv[1], "wb"), *payload = fopen(ppath, "wb");
    if (!out || !payload) {
        perror("bigmail");
        return 1;
    }
    rng_state = 0x9e3779b97f4a7c15ull ^ strtoull(argv[4], NULL, 10);
    size_t size = (size_t)strtoull(argv[3], NULL, 10);
    if (strcmp(argv[2], "base64") == 0)
        base64_message(out, payload, size);
    else
        qp_message(out, payload, size);
    if (fclose(out) != 0 || fclose(payload) != 0) {
        perror("bigmail");
        return 1;
    }
    return 0;
}
