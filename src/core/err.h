/* SPDX-License-Identifier: MIT */
/*
 * The one error enum of MeshHook, its messages, and the optional detail record that callers pass
 * down when they want a human-readable reason (an API 4xx body, a JMESPath syntax error with its
 * byte offset, a JSON path to an offending field).
 */
#ifndef MH_CORE_ERR_H
#define MH_CORE_ERR_H

#include <stddef.h>

#define MH_MUSTCHECK    __attribute__((warn_unused_result))
#define MH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MH_NORETURN     __attribute__((noreturn))

enum mh_err {
    MH_OK = 0,
    MH_ENOMEM,
    MH_EINVAL,
    MH_ETOOBIG,
    MH_ENOTFOUND,
    MH_ECONFLICT,
    MH_ETIMEOUT,
    MH_EDB,
    MH_EHTTP,
    MH_ECRYPTO,
    MH_EJMESPATH,
    MH_EAUTH,
    MH_EFORBIDDEN,
    MH_EUNAVAILABLE,
    MH_EIO,
    MH_ELIMIT,
};

/* Returns a static, never-NULL description of `err`. */
const char *mh_strerror(enum mh_err err);

/*
 * Optional human-readable detail. Callers zero it (or use MH_ERR_INFO_INIT) and pass a pointer;
 * callees that fail fill it with mh_err_set(). `offset` is a byte offset into the input where it
 * applies (-1 otherwise); `path` is a JSON path or JSON pointer to the offending field ("" when
 * none); `kind` is a short machine-readable class such as "syntax" or "invalid-type".
 */
struct mh_err_info {
    char kind[32];
    char message[256];
    char path[256];
    long offset;
};

#define MH_ERR_INFO_INIT                                                                           \
    {                                                                                              \
        .kind = "", .message = "", .path = "", .offset = -1                                        \
    }

/* Fills `info` (NULL-tolerant) and returns `err`, so a callee can `return mh_err_set(...)`. */
enum mh_err mh_err_set(struct mh_err_info *info, enum mh_err err, const char *kind, long offset,
                       const char *fmt, ...) MH_PRINTF(5, 6);

/* Sets the path of an already-filled `info` (NULL-tolerant). */
void mh_err_set_path(struct mh_err_info *info, const char *path);

#endif
