/* SPDX-License-Identifier: MIT */
/* Private to db. */
#ifndef MH_DB_INTERNAL_H
#define MH_DB_INTERNAL_H

#include <libpq-fe.h>

#include "db/db.h"

/* The libpq connection behind `c` (NULL when closed). */
PGconn *mh_db__pg(struct mh_db_conn *c);

#endif
