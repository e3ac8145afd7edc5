/* SPDX-License-Identifier: MIT */
/*
 * Error strings and the detail record. Kept tiny and allocation-free so it can be used on any
 * error path, including out-of-memory ones.
 */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mh_strerror(enum mh_err err)
{
    switch (err) {
    case MH_OK: return "success";
    case MH_ENOMEM: return "out of memory";
    case MH_EINVAL: return "invalid argument";
    case MH_ETOOBIG: return "too big";
    case MH_ENOTFOUND: return "not found";
    case MH_ECONFLICT: return "conflict";
    case MH_ETIMEOUT: return "timed out";
    case MH_EDB: return "database error";
    case MH_EHTTP: return "http error";
    case MH_ECRYPTO: return "cryptographic failure";
    case MH_EJMESPATH: return "jmespath error";
    case MH_EAUTH: return "unauthenticated";
    case MH_EFORBIDDEN: return "forbidden";
    case MH_EUNAVAILABLE: return "unavailable";
    case MH_EIO: return "i/o error";
    case MH_ELIMIT: return "limit exceeded";
    }
    return "unknown error";
}

enum mh_err mh_err_set(struct mh_err_info *info, enum mh_err err, const char *kind, long offset,
                       const char *fmt, ...)
{
    if (info == NULL)
        return err;
    snprintf(info->kind, sizeof(info->kind), "%s", kind ? kind : "");
    info->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(info->message, sizeof(info->message), fmt, ap);
    va_end(ap);
    return err;
}

void mh_err_set_path(struct mh_err_info *info, const char *path)
{
    if (info == NULL)
        return;
    snprintf(info->path, sizeof(info->path), "%s", path ? path : "");
}
