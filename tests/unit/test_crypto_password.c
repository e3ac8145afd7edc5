/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of argon2id password hashing: round trips, the PHC string carrying the caller's
 * m/t/p, strings written by an independent argon2id implementation (tests/data/crypto/), rehash
 * detection, rejection of malformed or abusive stored strings, and the dummy verification's cost.
 * Parameters are kept tiny except in the one test that uses the defaults.
 */
#include <jansson.h>
#include <time.h>

#include "crypto/password.h"
#include "harness.h"

static const struct mh_crypto_argon2_params small = {
    .t_cost = 1, .m_cost_kib = 256, .parallelism = 1};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

MH_TEST(password_round_trip)
{
    char *enc = NULL, *enc2 = NULL;
    const char *pw = "hunter2 with spaces";
    MH_T_ASSERT_EQ(mh_crypto_password_hash(pw, strlen(pw), &small, &enc), MH_OK);
    MH_T_ASSERT_EQ(strncmp(enc, "$argon2id$v=19$m=256,t=1,p=1$", 29), 0);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, strlen(pw)), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "hunter2", 7), MH_EAUTH);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "hunter2 with spaceS", strlen(pw)), MH_EAUTH);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "", 0), MH_EAUTH);
    /* A fresh salt each time: the same password never gives the same string. */
    MH_T_ASSERT_EQ(mh_crypto_password_hash(pw, strlen(pw), &small, &enc2), MH_OK);
    MH_T_ASSERT(strcmp(enc, enc2) != 0);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc2, pw, strlen(pw)), MH_OK);
    free(enc);
    free(enc2);
}

MH_TEST(password_binary_and_empty)
{
    char *enc = NULL;
    const char pw[] = {'a', '\0', 'b'};
    MH_T_ASSERT_EQ(mh_crypto_password_hash(pw, 3, &small, &enc), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, 3), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, 1), MH_EAUTH);
    free(enc);
    MH_T_ASSERT_EQ(mh_crypto_password_hash("", 0, &small, &enc), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "", 0), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "x", 1), MH_EAUTH);
    free(enc);
}

MH_TEST(password_params_in_string)
{
    struct mh_crypto_argon2_params p = {.t_cost = 3, .m_cost_kib = 512, .parallelism = 2};
    char *enc = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_OK);
    MH_T_ASSERT_EQ(strncmp(enc, "$argon2id$v=19$m=512,t=3,p=2$", 29), 0);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "pw", 2), MH_OK);
    free(enc);
}

MH_TEST(password_default_params)
{
    struct mh_crypto_argon2_params d;
    mh_crypto_argon2_params_default(&d);
    MH_T_ASSERT(d.m_cost_kib >= 19456);
    MH_T_ASSERT(d.t_cost >= 2);
    MH_T_ASSERT_EQ(d.parallelism, 1);
    char *enc = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash("s3cret", 6, NULL, &enc), MH_OK);
    MH_T_ASSERT_EQ(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "s3cret", 6), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "s3creT", 6), MH_EAUTH);
    MH_T_ASSERT(!mh_crypto_password_needs_rehash(enc, NULL));
    free(enc);
}

MH_TEST(password_independent_vectors)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/crypto/argon2id.json", mh_t_repo_dir());
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot load %s: %s", path, jerr.text);
    json_t *vs = json_object_get(doc, "vectors");
    MH_T_ASSERT(json_array_size(vs) >= 3);
    for (size_t i = 0; i < json_array_size(vs); i++) {
        const char *pw = json_string_value(json_object_get(json_array_get(vs, i), "password"));
        const char *enc = json_string_value(json_object_get(json_array_get(vs, i), "encoded"));
        MH_T_ASSERT(pw != NULL && enc != NULL);
        MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, strlen(pw)), MH_OK);
        MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "wrong", 5), MH_EAUTH);
    }
    json_decref(doc);
}

MH_TEST(password_needs_rehash)
{
    char *enc = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &small, &enc), MH_OK);
    MH_T_ASSERT(!mh_crypto_password_needs_rehash(enc, &small));
    struct mh_crypto_argon2_params p = small;
    p.t_cost = 2;
    MH_T_ASSERT(mh_crypto_password_needs_rehash(enc, &p));
    p = small;
    p.m_cost_kib = 512;
    MH_T_ASSERT(mh_crypto_password_needs_rehash(enc, &p));
    p = small;
    p.parallelism = 2;
    MH_T_ASSERT(mh_crypto_password_needs_rehash(enc, &p));
    /* The defaults are stronger than `small`. */
    MH_T_ASSERT(mh_crypto_password_needs_rehash(enc, NULL));
    MH_T_ASSERT(mh_crypto_password_needs_rehash("garbage", &small));
    MH_T_ASSERT(mh_crypto_password_needs_rehash(NULL, &small));
    MH_T_ASSERT(mh_crypto_password_needs_rehash(
        "$argon2i$v=19$m=256,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE",
        &small));
    free(enc);
}

MH_TEST(password_rejects_malformed_and_abusive_strings)
{
    /* Each differs from a valid string in one way; none may run argon2 with silly parameters. */
    static const char *bad[] = {
        "",
        "$argon2i$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE",
        "$argon2id$v=16$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE",
        "$argon2id$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE",
        /* Four GiB of memory, then an absurd pass count, then lanes. */
        "$argon2id$v=19$m=4294967295,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        "$argon2id$v=19$m=256,t=100000,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        "$argon2id$v=19$m=256,t=2,p=0$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE",
        "$argon2id$v=19$m=256,t=2,p=1,x=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        "$argon2id$v=19$m=0256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        /* Padded base64, a short salt, a short hash, trailing garbage, a missing hash. */
        "$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        "$argon2id$v=19$m=256,t=2,p=1$MDEy$6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
        "$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$6v921DcCh4Jg",
        "$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
        "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/"
        "5wLE$",
        "$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mh_err rc = mh_crypto_password_verify(bad[i], "correct horse battery staple", 28);
        if (rc != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "case %zu returned %d", i, (int)rc);
    }
    MH_T_ASSERT_EQ(mh_crypto_password_verify(NULL, "x", 1), MH_EINVAL);
    /* The same string minus the defect verifies, so the cases above fail for their defect. */
    MH_T_ASSERT_EQ(mh_crypto_password_verify("$argon2id$v=19$m=256,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$"
                                             "6v921DcCh4JgNTUk8Zy5XG6tyoURKEoHlKq0MC/5wLE",
                                             "correct horse battery staple", 28),
                   MH_OK);
}

MH_TEST(password_rejects_bad_params_and_long_passwords)
{
    char *enc = NULL;
    struct mh_crypto_argon2_params p = {.t_cost = 0, .m_cost_kib = 256, .parallelism = 1};
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_EINVAL);
    p = (struct mh_crypto_argon2_params){.t_cost = 1, .m_cost_kib = 4, .parallelism = 1};
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_EINVAL);
    p = (struct mh_crypto_argon2_params){.t_cost = 1, .m_cost_kib = 256, .parallelism = 0};
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_EINVAL);
    MH_T_ASSERT(enc == NULL);
    char *long_pw = calloc(1, MH_CRYPTO_PASSWORD_MAX_LEN + 2);
    memset(long_pw, 'a', MH_CRYPTO_PASSWORD_MAX_LEN + 1);
    MH_T_ASSERT_EQ(mh_crypto_password_hash(long_pw, strlen(long_pw), &small, &enc), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_crypto_password_hash(long_pw, MH_CRYPTO_PASSWORD_MAX_LEN, &small, &enc),
                   MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, long_pw, strlen(long_pw)), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, long_pw, MH_CRYPTO_PASSWORD_MAX_LEN), MH_OK);
    free(enc);
    free(long_pw);
}

/*
 * The dummy must cost about what a real verification costs at the same parameters. Timing is
 * noisy, so the bound is loose (a quarter), yet a dummy that skipped argon2 or used cheaper
 * parameters would miss it by orders of magnitude.
 */
MH_TEST(password_dummy_verify_spends_real_time)
{
    struct mh_crypto_argon2_params p = {.t_cost = 2, .m_cost_kib = 8192, .parallelism = 1};
    char *enc = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_OK);
    double best_real = 1e9, best_dummy = 1e9;
    /* Best of seven: on a busy machine any one pair can be preempted. */
    for (int i = 0; i < 7; i++) {
        double t0 = now_s();
        MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, "nope", 4), MH_EAUTH);
        double t1 = now_s();
        MH_T_ASSERT_EQ(mh_crypto_password_dummy_verify("nope", 4, &p), MH_EAUTH);
        double t2 = now_s();
        if (t1 - t0 < best_real)
            best_real = t1 - t0;
        if (t2 - t1 < best_dummy)
            best_dummy = t2 - t1;
    }
    if (!(best_dummy > best_real / 4 && best_dummy < best_real * 4))
        mh_t_fail(__FILE__, __LINE__, "dummy %.4fs vs real %.4fs", best_dummy, best_real);
    free(enc);
}

/*
 * Issue #18, 2: the dummy refuses an over-long password exactly as a real verification does,
 * before any hashing; it used to hash a truncated copy, so an unknown account answered thirty
 * times slower than a known one. Within the limit it answers as a wrong password does.
 */
MH_TEST(password_dummy_verify_refuses_what_verify_refuses)
{
    struct mh_crypto_argon2_params p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};
    char *enc = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash("pw", 2, &p, &enc), MH_OK);
    size_t n = MH_CRYPTO_PASSWORD_MAX_LEN + 1;
    char *pw = malloc(n);
    memset(pw, 'x', n);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, n), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_crypto_password_dummy_verify(pw, n, &p), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_crypto_password_verify(enc, pw, n - 1), MH_EAUTH);
    MH_T_ASSERT_EQ(mh_crypto_password_dummy_verify(pw, n - 1, &p), MH_EAUTH);
    free(pw);
    free(enc);
}
