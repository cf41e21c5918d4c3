-- Helper functions kept in a second file and loaded with dofile(), as many imapfilter users
-- do: plain globals, shared by their configs (tests/compat/configs/lists.lua).

-- Moves what a mailing list sent to mbox into the folder dest of acct.
function list_rule(acct, mbox, id, dest)
  mbox:contain_field("List-Id", id):move_messages(acct[dest])
end

-- The messages of mbox from any of the senders.
function from_any(mbox, senders)
  local found = Set {}
  for _, s in ipairs(senders) do found = found + mbox:contain_from(s) end
  return found
end
