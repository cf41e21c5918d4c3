/* session_notify.c — for watchers: NOTIFY SET (RFC 5465) on a list of mailboxes, and what an
 * unsolicited response says about mailboxes (new mail, expunges, flag changes, STATUS). */
#include "session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct session_cmd *session_notify_start(struct session *s, const char *const *boxes, size_t n,
                                         bool flags)
{
    if (!session_has_cap(s, "NOTIFY"))
        return cmd_failed(s, "NOTIFY", SESSION_ERR_UNSUPPORTED,
                          "NOTIFY: the server does not offer NOTIFY");
    if (n == 0)
        return cmd_failed(s, "NOTIFY", SESSION_ERR_USAGE, "NOTIFY: no mailbox given");
    struct command c;
    session_command_start(s, &c, "NOTIFY");
    command_raw(&c, "SET (mailboxes (", 16);
    for (size_t i = 0; i < n; i++)
        command_mailbox(&c, boxes[i], strlen(boxes[i]));
    /* MessageNew and MessageExpunge go together (RFC 5465 section 5); FlagChange on top. */
    if (flags)
        command_raw(&c, ") (MessageNew MessageExpunge FlagChange))", 41);
    else
        command_raw(&c, ") (MessageNew MessageExpunge))", 30);
    command_end(&c);
    struct session_cmd *sc = cmd_send(s, &c, "NOTIFY", NULL, NULL);
    command_free(&c);
    return sc;
}

int session_event_decode(struct session *s, const struct imap_response *r,
                         struct session_event *out)
{
    memset(out, 0, sizeof *out);
    out->st.messages = out->st.unseen = out->st.recent = out->st.uidnext = out->st.uidvalidity =
        out->st.highestmodseq = -1;
    if (r->kind != IMAP_UNTAGGED || r->status != IMAP_ST_NONE || !r->name)
        return -1;
    if (strcmp(r->name, "STATUS") == 0) {
        struct imap_status_data d;
        char e[160];
        if (decode_status(r, &s->scratch, &d, e, sizeof e) < 0 || !d.mailbox)
            return -1;
        char *name = name_from_wire(s, d.mailbox);
        out->mailbox = name ? arena_strndup(&s->scratch, name, strlen(name)) : NULL;
        free(name);
        if (!out->mailbox)
            return -1;
        out->kind = SESSION_EV_STATUS;
        out->st.messages = d.messages;
        out->st.unseen = d.unseen;
        out->st.recent = d.recent;
        out->st.uidnext = d.uidnext;
        out->st.uidvalidity = d.uidvalidity;
        out->st.highestmodseq = d.highestmodseq;
        return 0;
    }
    if (!s->view.name)
        return -1;
    out->mailbox = s->view.name;
    if (strcmp(r->name, "EXISTS") == 0)
        out->kind = SESSION_EV_NEW;
    else if (strcmp(r->name, "EXPUNGE") == 0 || strcmp(r->name, "VANISHED") == 0)
        out->kind = SESSION_EV_EXPUNGE;
    else if (strcmp(r->name, "FETCH") == 0)
        out->kind = SESSION_EV_FLAGS;
    else
        return -1;
    return 0;
}
