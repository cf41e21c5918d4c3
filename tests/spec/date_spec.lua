-- date_spec.lua — imap.parse_date and imap.internaldate: the Lua face of date.c (its table of
-- real-world Date: headers is tests/unit/test_date.c), round trips and argument checks.
local imap = require "imapscript"

describe("imap.parse_date", function()
  it("returns UTC seconds and the zone in minutes east", function()
    assert.are.same({ 1057049557, 120 }, { imap.parse_date("Tue, 1 Jul 2003 10:52:37 +0200") })
    assert.are.same({ 837596665, -420 }, { imap.parse_date("17-Jul-1996 02:44:25 -0700") })
    assert.are.same({ 1581602703, -300 }, { imap.parse_date("Thu, 13 Feb 20 09:05:03 EST (obsolete)") })
  end)

  it("returns nil and a message for what is not a date", function()
    local t, err = imap.parse_date("next Tuesday")
    assert.is_nil(t)
    assert.truthy(err:find("not a date", 1, true), err)
    assert.has_error(function() imap.parse_date(nil) end)
  end)
end)

describe("imap.internaldate", function()
  it("writes an IMAP date-time in the zone asked for", function()
    assert.are.equal("17-Jul-1996 02:44:25 -0700", imap.internaldate(837596665, -420))
    assert.are.equal(" 1-Jan-1970 05:30:00 +0530", imap.internaldate(0, 330))
    assert.are.equal(" 1-Jan-1970 00:00:00 +0000", imap.internaldate(0.9, 0))
    assert.are.equal("31-Dec-1969 23:59:59 +0000", imap.internaldate(-0.5, 0))
  end)

  it("defaults to the local zone, as os.date sees it", function()
    for _, t in ipairs { 0, 1057049557, 1581584703, os.time() } do
      local z = os.date("%z", t)
      assert.are.equal(os.date("%d-%b-%Y %H:%M:%S ", t):gsub("^0", " ") .. z, imap.internaldate(t))
      local sign, hh, mm = z:match("([+-])(%d%d)(%d%d)")
      local minutes = (tonumber(hh) * 60 + tonumber(mm)) * (sign == "-" and -1 or 1)
      assert.are.same({ t, minutes }, { imap.parse_date(imap.internaldate(t)) })
    end
  end)

  it("reads back what it wrote, in every zone", function()
    for _, t in ipairs { -2208988800, -1, 0, 951782400, 1709208000, 4102444799 } do
      for z = -720, 840, 45 do
        assert.are.same({ t, z }, { imap.parse_date(imap.internaldate(t, z)) })
      end
    end
  end)

  it("refuses zones and times it cannot write", function()
    for _, args in ipairs { { 0, 1440 }, { 0, -1440 }, { 0, 1.5 }, { 1e15, 0 }, { 0 / 0, 0 } } do
      local ok, err = pcall(imap.internaldate, args[1], args[2])
      assert.is_false(ok)
      assert.truthy(tostring(err):find("internaldate", 1, true), tostring(err))
    end
    assert.has_error(function() imap.internaldate("yesterday") end)
  end)
end)
