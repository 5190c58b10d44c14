/*
 * The edges of the C ABI, as a C caller meets them: NULL arguments, buffers
 * too small, overlapping buffers, exact fits, messages. tests/children.rs
 * compiles it against libotp_link and runs it, under valgrind where
 * valgrind is installed (always in CI), as
 *
 *     abi_edges STORE USER_KEY PASS_KEY USERNAME PASSWORD ACCOUNT_NAME
 *
 * with OTP_LINK_STORE naming STORE too; the keys open the account. Every
 * output buffer sits between two guard areas: a write outside the buffer
 * changes a guard (and valgrind reports any write past the whole block).
 * Prints one line per failed check and exits 1 if there was any.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otp_link.h"

static int failures = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (!(cond)) {                                     \
            failures++;                                    \
            fprintf(stderr, "abi_edges.c:%d: ", __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fprintf(stderr, " [%s]\n", #cond);             \
        }                                                  \
    } while (0)

enum { GUARD = 16, FILL = 0xa5, NOT_A_LENGTH = 777 };

/* A buffer of `cap` bytes inside a heap block with a guard area on each
 * side, every byte of it FILL, and a length slot holding NOT_A_LENGTH. */
struct out {
    unsigned char *block;
    char *buf;
    size_t cap;
    size_t len;
};

static struct out out_new(size_t cap)
{
    struct out o;
    o.block = malloc(cap + 2 * GUARD);
    if (o.block == NULL) {
        perror("malloc");
        exit(2);
    }
    memset(o.block, FILL, cap + 2 * GUARD);
    o.buf = (char *)o.block + GUARD;
    o.cap = cap;
    o.len = NOT_A_LENGTH;
    return o;
}

static int guards_intact(const struct out *o)
{
    for (size_t i = 0; i < GUARD; i++) {
        if (o->block[i] != FILL || o->block[GUARD + o->cap + i] != FILL) {
            return 0;
        }
    }
    return 1;
}

static int all_bytes(const struct out *o, size_t from, unsigned char value)
{
    for (size_t i = from; i < o->cap; i++) {
        if ((unsigned char)o->buf[i] != value) {
            return 0;
        }
    }
    return 1;
}

/* Zeroed by a failed call: every byte of the buffer 0, the length 0. */
static int zeroed(const struct out *o)
{
    return guards_intact(o) && all_bytes(o, 0, 0) && o->len == 0;
}

/* Holds `value` and then zeroes up to the end, with its length. */
static int holds(const struct out *o, const char *value)
{
    size_t n = strlen(value);
    return guards_intact(o) && o->len == n && n <= o->cap &&
           memcmp(o->buf, value, n) == 0 && all_bytes(o, n, 0);
}

static void out_free(struct out *o)
{
    free(o->block);
    o->block = NULL;
}

static const char *store, *user_key, *pass_key, *username, *password, *account;

/* otp_link_recover into two fresh outputs of the given sizes. */
static int recover(const char *from, size_t user_cap, size_t pass_cap, struct out *u, struct out *p)
{
    *u = out_new(user_cap);
    *p = out_new(pass_cap);
    return otp_link_recover(from, user_key, pass_key, u->buf, u->cap, &u->len, p->buf, p->cap,
                            &p->len);
}

static void last_error(char *message, size_t cap)
{
    int code = otp_link_last_error(message, cap, NULL);
    CHECK(code == OTP_LINK_OK, "otp_link_last_error gave %d", code);
}

static void successes(void)
{
    struct out u, p;
    int code;

    CHECK(otp_link_abi_version() == OTP_LINK_ABI_VERSION, "ABI version %u",
          (unsigned)otp_link_abi_version());

    /* The store by path and by the default lookup (OTP_LINK_STORE). */
    const char *stores[] = {store, NULL};
    for (int i = 0; i < 2; i++) {
        code = recover(stores[i], OTP_LINK_MAX_VALUE_LEN, OTP_LINK_MAX_VALUE_LEN, &u, &p);
        CHECK(code == OTP_LINK_OK, "recover (%s) gave %d", i ? "default" : "path", code);
        CHECK(holds(&u, username), "username");
        CHECK(holds(&p, password), "password");
        out_free(&u);
        out_free(&p);
    }
    char message[512];
    last_error(message, sizeof message);
    CHECK(message[0] == '\0', "last error after a success: %s", message);

    /* Buffers of exactly the values' lengths: no room for a NUL needed. */
    code = recover(store, strlen(username), strlen(password), &u, &p);
    CHECK(code == OTP_LINK_OK, "exact fit gave %d", code);
    CHECK(holds(&u, username) && holds(&p, password), "exact fit");
    out_free(&u);
    out_free(&p);

    /* verify: the account's name, exactly, or no name at all. */
    struct out n = out_new(OTP_LINK_MAX_NAME_LEN);
    code = otp_link_verify(store, user_key, pass_key, n.buf, n.cap, &n.len);
    CHECK(code == OTP_LINK_OK && holds(&n, account), "verify gave %d", code);
    out_free(&n);
    size_t name_len = NOT_A_LENGTH;
    code = otp_link_verify(NULL, user_key, pass_key, NULL, 12345, &name_len);
    CHECK(code == OTP_LINK_OK && name_len == strlen(account), "verify without a buffer: %d %zu",
          code, name_len);
    code = otp_link_verify(NULL, user_key, pass_key, NULL, 0, NULL);
    CHECK(code == OTP_LINK_OK, "verify without a buffer or a length: %d", code);
}

static void buffers_too_small(void)
{
    struct out u, p;
    int code;
    size_t user_n = strlen(username), pass_n = strlen(password);

    /* One byte short for either value: both outputs zeroed. */
    if (user_n > 0) {
        code = recover(store, user_n - 1, OTP_LINK_MAX_VALUE_LEN, &u, &p);
        CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL, "small user_cap gave %d", code);
        CHECK(zeroed(&u) && zeroed(&p), "small user_cap: outputs not zeroed");
        out_free(&u);
        out_free(&p);
    }
    code = recover(store, OTP_LINK_MAX_VALUE_LEN, pass_n - 1, &u, &p);
    CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL, "small pass_cap gave %d", code);
    CHECK(zeroed(&u) && zeroed(&p), "small pass_cap: the username was left behind");
    out_free(&u);
    out_free(&p);

    char message[512];
    last_error(message, sizeof message);
    CHECK(strstr(message, "pass_cap") != NULL, "last error names pass_cap: %s", message);
    CHECK(strstr(message, password) == NULL, "last error holds the password: %s", message);

    struct out n = out_new(strlen(account) - 1);
    code = otp_link_verify(store, user_key, pass_key, n.buf, n.cap, &n.len);
    CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL && zeroed(&n), "small name_cap gave %d", code);
    out_free(&n);

    /* A capacity of 0 with a buffer: nothing may be written through it. */
    code = recover(store, 0, 0, &u, &p);
    CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL, "cap 0 gave %d", code);
    CHECK(guards_intact(&u) && guards_intact(&p) && u.len == 0 && p.len == 0, "cap 0");
    out_free(&u);
    out_free(&p);
}

static void null_arguments(void)
{
    /* Each pointer that may not be NULL, in turn: code 2, every other
     * output zeroed, nothing written through anything else. */
    for (int which = 0; which < 6; which++) {
        struct out u = out_new(OTP_LINK_MAX_VALUE_LEN), p = out_new(OTP_LINK_MAX_VALUE_LEN);
        const char *uk = which == 0 ? NULL : user_key;
        const char *pk = which == 1 ? NULL : pass_key;
        char *ub = which == 2 ? NULL : u.buf;
        size_t *ul = which == 3 ? NULL : &u.len;
        char *pb = which == 4 ? NULL : p.buf;
        size_t *pl = which == 5 ? NULL : &p.len;
        int code = otp_link_recover(store, uk, pk, ub, u.cap, ul, pb, p.cap, pl);
        CHECK(code == 2, "NULL argument %d gave %d", which, code);
        CHECK(guards_intact(&u) && guards_intact(&p), "NULL argument %d: a guard changed", which);
        CHECK(which == 2 ? all_bytes(&u, 0, FILL) : all_bytes(&u, 0, 0),
              "NULL argument %d: user_buf", which);
        CHECK(which == 4 ? all_bytes(&p, 0, FILL) : all_bytes(&p, 0, 0),
              "NULL argument %d: pass_buf", which);
        CHECK(which == 3 ? u.len == NOT_A_LENGTH : u.len == 0, "NULL argument %d: user_len", which);
        CHECK(which == 5 ? p.len == NOT_A_LENGTH : p.len == 0, "NULL argument %d: pass_len", which);
        out_free(&u);
        out_free(&p);
    }
    char message[512];
    otp_link_recover(store, user_key, NULL, message, 1, NULL, message, 1, NULL);
    last_error(message, sizeof message);
    CHECK(strstr(message, "pass_key is NULL") != NULL, "last error: %s", message);

    struct out n = out_new(OTP_LINK_MAX_NAME_LEN);
    int code = otp_link_verify(store, NULL, pass_key, n.buf, n.cap, &n.len);
    CHECK(code == 2 && zeroed(&n), "verify with a NULL user_key gave %d", code);
    code = otp_link_verify(store, user_key, NULL, n.buf, n.cap, &n.len);
    CHECK(code == 2 && zeroed(&n), "verify with a NULL pass_key gave %d", code);
    out_free(&n);

    code = otp_link_strerror(4, NULL, 64);
    CHECK(code == 2, "strerror into NULL gave %d", code);
    size_t len = NOT_A_LENGTH;
    code = otp_link_last_error(NULL, 64, &len);
    CHECK(code == 2 && len == 0, "last_error into NULL gave %d, len %zu", code, len);
}

static void overlapping_buffers(void)
{
    struct out both = out_new(2 * OTP_LINK_MAX_VALUE_LEN);
    size_t user_len = NOT_A_LENGTH, pass_len = NOT_A_LENGTH;
    int code = otp_link_recover(store, user_key, pass_key, both.buf, OTP_LINK_MAX_VALUE_LEN + 1,
                                &user_len, both.buf + OTP_LINK_MAX_VALUE_LEN,
                                OTP_LINK_MAX_VALUE_LEN, &pass_len);
    CHECK(code == 2, "overlapping buffers gave %d", code);
    both.len = 0;
    CHECK(zeroed(&both) && user_len == 0 && pass_len == 0, "overlapping buffers not zeroed");
    out_free(&both);

    /* Adjacent is not overlapping. */
    both = out_new(2 * OTP_LINK_MAX_VALUE_LEN);
    code = otp_link_recover(store, user_key, pass_key, both.buf, OTP_LINK_MAX_VALUE_LEN,
                            &user_len, both.buf + OTP_LINK_MAX_VALUE_LEN,
                            OTP_LINK_MAX_VALUE_LEN, &pass_len);
    CHECK(code == OTP_LINK_OK, "adjacent buffers gave %d", code);
    CHECK(user_len == strlen(username) && memcmp(both.buf, username, user_len) == 0, "adjacent");
    out_free(&both);
}

static void failures_zero_the_outputs(void)
{
    struct out u, p;
    /* Keys swapped: 3, and a message that repeats neither key. */
    u = out_new(OTP_LINK_MAX_VALUE_LEN);
    p = out_new(OTP_LINK_MAX_VALUE_LEN);
    int code = otp_link_recover(store, pass_key, user_key, u.buf, u.cap, &u.len, p.buf, p.cap,
                                &p.len);
    CHECK(code == 3 && zeroed(&u) && zeroed(&p), "swapped keys gave %d", code);
    out_free(&u);
    out_free(&p);
    char message[512];
    last_error(message, sizeof message);
    CHECK(strncmp(message, "keys do not match", 17) == 0, "last error: %s", message);
    CHECK(strstr(message, user_key + 10) == NULL && strstr(message, pass_key + 10) == NULL,
          "last error holds a key: %s", message);

    /* A key that is not UTF-8: malformed, 3. */
    char bad[600];
    snprintf(bad, sizeof bad, "%s", user_key);
    bad[12] = (char)0xff;
    u = out_new(OTP_LINK_MAX_VALUE_LEN);
    p = out_new(OTP_LINK_MAX_VALUE_LEN);
    code = otp_link_recover(store, bad, pass_key, u.buf, u.cap, &u.len, p.buf, p.cap, &p.len);
    CHECK(code == 3 && zeroed(&u) && zeroed(&p), "a key that is not UTF-8 gave %d", code);
    out_free(&u);
    out_free(&p);

    /* A store that does not exist: 7, and the message names it. */
    char missing[1024];
    snprintf(missing, sizeof missing, "%s.missing", store);
    code = recover(missing, OTP_LINK_MAX_VALUE_LEN, OTP_LINK_MAX_VALUE_LEN, &u, &p);
    CHECK(code == 7 && zeroed(&u) && zeroed(&p), "a missing store gave %d", code);
    out_free(&u);
    out_free(&p);
    last_error(message, sizeof message);
    CHECK(strstr(message, missing) != NULL, "last error names the store: %s", message);

    struct out n = out_new(OTP_LINK_MAX_NAME_LEN);
    code = otp_link_verify(missing, user_key, pass_key, n.buf, n.cap, &n.len);
    CHECK(code == 7 && zeroed(&n), "verify of a missing store gave %d", code);
    out_free(&n);
}

static void messages(void)
{
    char buf[OTP_LINK_STRERROR_CAP];
    int codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                   OTP_LINK_ERR_BUFFER_TOO_SMALL, OTP_LINK_ERR_INTERNAL, -1, 12345};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        memset(buf, FILL, sizeof buf);
        int code = otp_link_strerror(codes[i], buf, sizeof buf);
        const char *nul = memchr(buf, 0, sizeof buf);
        size_t n = nul ? (size_t)(nul - buf) : sizeof buf;
        CHECK(code == OTP_LINK_OK && n > 0 && n < sizeof buf, "strerror(%d) gave %d", codes[i],
              code);
    }
    otp_link_strerror(4, buf, sizeof buf);
    CHECK(strncmp(buf, "authentication failed", 21) == 0, "strerror(4): %s", buf);
    otp_link_strerror(12345, buf, sizeof buf);
    CHECK(strcmp(buf, "unknown otp-link code") == 0, "strerror(12345): %s", buf);

    /* Too small for the message and its NUL: zeroed. */
    size_t need = strlen(buf);
    struct out o = out_new(need);
    int code = otp_link_strerror(12345, o.buf, o.cap);
    o.len = 0;
    CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL && zeroed(&o), "small strerror gave %d", code);
    out_free(&o);
    o = out_new(need + 1);
    code = otp_link_strerror(12345, o.buf, o.cap);
    CHECK(code == OTP_LINK_OK && guards_intact(&o) && strcmp(o.buf, buf) == 0, "exact strerror");
    out_free(&o);

    /* The last error, too small: zeroed, and told the length it needs. */
    struct out u, p;
    char missing[1024];
    snprintf(missing, sizeof missing, "%s.missing", store);
    recover(missing, OTP_LINK_MAX_VALUE_LEN, OTP_LINK_MAX_VALUE_LEN, &u, &p);
    out_free(&u);
    out_free(&p);
    char whole[1024];
    size_t whole_len = NOT_A_LENGTH;
    code = otp_link_last_error(whole, sizeof whole, &whole_len);
    CHECK(code == OTP_LINK_OK && whole_len == strlen(whole) && whole_len > 0, "last error");
    o = out_new(whole_len);
    code = otp_link_last_error(o.buf, o.cap, &o.len);
    CHECK(code == OTP_LINK_ERR_BUFFER_TOO_SMALL && guards_intact(&o) && all_bytes(&o, 0, 0) &&
              o.len == whole_len,
          "small last error gave %d, len %zu", code, o.len);
    out_free(&o);
    /* Reading it (or a strerror) left it as it was. */
    char again[1024];
    last_error(again, sizeof again);
    CHECK(strcmp(again, whole) == 0, "the last error changed: %s", again);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: abi_edges STORE USER_KEY PASS_KEY USERNAME PASSWORD ACCOUNT\n");
        return 2;
    }
    store = argv[1];
    user_key = argv[2];
    pass_key = argv[3];
    username = argv[4];
    password = argv[5];
    account = argv[6];
    if (strlen(password) == 0 || strlen(account) == 0) {
        fprintf(stderr, "abi_edges: needs a non-empty password and account name\n");
        return 2;
    }
    successes();
    buffers_too_small();
    null_arguments();
    overlapping_buffers();
    failures_zero_the_outputs();
    messages();
    if (failures) {
        fprintf(stderr, "abi_edges: %d checks failed\n", failures);
        return 1;
    }
    printf("abi_edges: every check held\n");
    return 0;
}
