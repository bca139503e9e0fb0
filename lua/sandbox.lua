-- The sandbox every Redis-compatible script runs in (Lua 5.1, run once per runtime).
--
-- Called with one table of Python bridges; returns a table of the functions the Python
-- side drives. Redis 7.0 locks its globals with a patched Lua VM (readonly tables); stock
-- Lua 5.1 has no such flag, so scripts run in an environment that is an empty view:
-- reads go to a hidden table of allowed globals (a missing name is an error), writes are
-- refused. Library tables are the same kind of readonly view. Python objects never reach
-- scripts: the bridges stay in this chunk's locals (debug, which could reach upvalues,
-- is not left to scripts).

local py = ...
local G = _G
-- The globals scripts see: an empty table that reads through to `allowed` (below) and
-- refuses writes. Script code gets it as its environment (setfenv), so lupa's own
-- globals are left alone.
local ENV = {}
local setfenv = setfenv
local sethook, getinfo, debug_getmetatable = debug.sethook, debug.getinfo, debug.getmetatable
-- lupa looks up debug.traceback on every call into Lua to use as the error handler; runs
-- catch their errors themselves (xpcall), so the lookup is spared by not keeping debug.
G.debug = nil
local type, error, tostring, select, unpack, next = type, error, tostring, select, unpack, next
local rawget, rawset, setmetatable = rawget, rawset, setmetatable
local raw_pcall, xpcall, raw_loadstring = pcall, xpcall, loadstring
local string_sub, string_byte, string_format, string_gsub =
    string.sub, string.byte, string.format, string.gsub
local table_concat = table.concat
local math_floor, math_huge = math.floor, math.huge
local co_create, co_resume = coroutine.create, coroutine.resume

local INTERNAL = "=alchemy"   -- the chunk name of this file (see runtime.py)
local HOOK_COUNT = 100000     -- instructions between two checks of the time limit
local REPLY_DEPTH = 200       -- nesting of a returned table beyond which Redis's stack ends
local MEMORY_HIGH_KB = py.memory_high_kb  -- past this, a run ends with a full collection
local OK_REPLY = py.ok_reply

-- -- readonly views ------------------------------------------------------------------

local readonly = setmetatable({}, {__mode = "k"})

local function refuse()
    error("Attempt to modify a readonly table", 2)
end

local function protect(t, metatable_shown)
    local view = setmetatable({}, {__index = t, __newindex = refuse,
                                   __metatable = metatable_shown or false})
    readonly[view] = true
    return view
end

local function safe_setmetatable(t, mt)
    if readonly[t] then error("Attempt to modify a readonly table", 2) end
    return setmetatable(t, mt)
end

local function safe_rawset(t, k, v)
    if readonly[t] then error("Attempt to modify a readonly table", 2) end
    return rawset(t, k, v)
end

-- unpack with Redis's fix: an empty range is no values, a huge one an error (the stock
-- Lua 5.1 size check overflows). The arguments are passed on as given, so the stack
-- room left for the values is what Redis leaves.
local function safe_unpack(...)
    local t, i, j = ...
    i = tonumber(i) or 1
    j = tonumber(j) or #t
    if i > j then return end
    if j - i >= 1000000 then error("too many results to unpack", 2) end
    return unpack(...)
end

-- -- the time-limit hook -----------------------------------------------------------------

local check_time = py.check_time
local killed = false  -- the hook then fires on every line, so pcall cannot swallow it

local function hook()
    if check_time() then
        -- Only script code is stopped: this file's code (the error handler, the end of
        -- a run) must finish, or the error would escape the run.
        if getinfo(2, "S").source == INTERNAL then return end
        if not killed then
            killed = true
            sethook(hook, "l")
        end
        error({err = "ERR Script killed by user with SCRIPT KILL..."})
    end
end

local function hooked_create(f)
    local co = co_create(f)
    sethook(co, hook, "", HOOK_COUNT)  -- hooks are per coroutine in Lua 5.1
    return co
end

local function resumed(ok, ...)
    if not ok then error((...), 0) end
    return ...
end

local function hooked_wrap(f)
    local co = hooked_create(f)
    return function(...) return resumed(co_resume(co, ...)) end
end

-- -- loading code: source text only, in the sandbox's globals ----------------------------

local function safe_loadstring(s, name)
    if type(s) == "string" and string_byte(s, 1) == 27 then
        return nil, "binary chunks are not allowed"
    end
    local f, message = raw_loadstring(s, name)
    if f then setfenv(f, ENV) end
    return f, message
end

local function safe_load(f, name)
    local parts = {}
    while true do
        local piece = f()
        if piece == nil or piece == "" then break end
        parts[#parts + 1] = piece
    end
    return safe_loadstring(table_concat(parts), name)
end

-- redis.call is a Python function called directly (a C function to Lua, so a tail call
-- `return redis.call(...)` keeps the script's frame for the error's line). Its errors
-- arrive as a Python exception object: every place a script can catch an error turns
-- that into Redis's {err=...} table first. A command's error reply was counted in INFO's
-- errorstats when the command answered: the table says so, as Redis's does.
local error_text = py.error_text

local function clean(e)
    if type(e) == "userdata" then
        local text, counted = error_text(e)
        if text then return {err = text, ignore_error_stats_update = counted or nil} end
    end
    return e
end

-- Redis 7 unwraps its error tables for scripts that pcall: they see the message.
local function unwrapped(ok, ...)
    if not ok then
        local e = clean((...))
        if type(e) == "table" then
            local msg = rawget(e, "err")
            if type(msg) == "string" then return false, msg end
        end
        return false, e
    end
    return ok, ...
end

local function safe_pcall(f, ...)
    return unwrapped(raw_pcall(f, ...))
end

local function safe_xpcall(f, h)
    return xpcall(f, function(e) return h(clean(e)) end)
end

local function resumed_clean(ok, ...)
    if not ok then return false, clean((...)) end
    return ok, ...
end

local function safe_resume(co, ...)
    return resumed_clean(co_resume(co, ...))
end

-- -- the redis table ---------------------------------------------------------------------

local function failure(msg)
    return {err = msg}
end

local function single_field(field)
    return function(...)
        local s = ...
        if select("#", ...) ~= 1 or type(s) ~= "string" then
            return failure("ERR wrong number or type of arguments")
        end
        return {[field] = s}
    end
end

local function error_reply(...)
    local s = ...
    if select("#", ...) ~= 1 or type(s) ~= "string" then
        return failure("ERR wrong number or type of arguments")
    end
    if string_sub(s, 1, 1) == "-" then s = string_sub(s, 2) end
    local code, msg = s:match("^(%S+) (.*)$")
    if not code then code, msg = "ERR", s end
    return {err = code .. " " .. string_gsub(msg, "^[\r\n]+", ""):gsub("[\r\n]+$", "")}
end

local function lib_bridge(f)
    -- A library function in Python answers (value, error): raised as luaL_error does,
    -- with the caller's position.
    return function(...)
        local value, message = f(...)
        if message then error(message, 2) end
        return value
    end
end

local function multi_bridge(f)
    -- Bridges returning several values answer (error message or false, values...).
    local function check(message, ...)
        if message then error(message, 3) end
        return ...
    end
    return function(...) return check(f(...)) end
end

local redis = {
    call = py.call,
    pcall = py.pcall,
    status_reply = single_field("ok"),
    error_reply = error_reply,
    sha1hex = py.sha1hex,
    log = py.log,
    setresp = py.setresp,
    set_repl = py.set_repl,
    replicate_commands = function() return true end,
    breakpoint = function() return false end,
    debug = function() end,
    acl_check_cmd = py.acl_check_cmd,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REPL_NONE = 0, REPL_AOF = 1, REPL_SLAVE = 2, REPL_REPLICA = 2, REPL_ALL = 3,
    REDIS_VERSION = py.redis_version,
    REDIS_VERSION_NUM = py.redis_version_num,
}

local alchemy = {
    sql = py.sql,
}

-- -- bit (LuaBitOp's API over Python integers) -------------------------------------------

local bit = {}
for _, name in ipairs({"tobit", "bnot", "band", "bor", "bxor", "lshift", "rshift",
                       "arshift", "rol", "ror", "bswap", "tohex"}) do
    bit[name] = lib_bridge(py.bit[name])
end

-- -- cjson: encoding walks the table here, decoding is Python's json ---------------------

local cjson_null = newproxy(false)
local cjson_settings = {max_depth = 1000, decode_max_depth = 1000, invalid_numbers = false,
                        precision = 14, sparse_ratio = 2, sparse_safe = 10,
                        sparse_convert = false}

local json_escapes = {['"'] = '\\"', ["\\"] = "\\\\", ["/"] = "\\/", ["\b"] = "\\b",
                      ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t"}
local function json_escape(c)
    return json_escapes[c] or string_format("\\u%04x", string_byte(c))
end

local function json_number(n)
    if n ~= n or n == math_huge or n == -math_huge then
        if not cjson_settings.invalid_numbers then
            error("Cannot serialise number: must not be NaN or Inf", 0)
        end
        if n ~= n then return "nan" end
        return n > 0 and "inf" or "-inf"
    end
    return string_format("%." .. cjson_settings.precision .. "g", n)
end

local function json_array_length(t)
    local max, items = 0, 0
    for k in next, t do
        if type(k) ~= "number" or k < 1 or math_floor(k) ~= k then return -1 end
        if k > max then max = k end
        items = items + 1
    end
    if max > cjson_settings.sparse_safe and max > items * cjson_settings.sparse_ratio then
        if not cjson_settings.sparse_convert then
            error("Cannot serialise table: excessively sparse array", 0)
        end
        return -1
    end
    return max
end

local function json_encode(v, depth, out)
    local t = type(v)
    if t == "string" then
        out[#out + 1] = '"' .. string_gsub(v, '[%z\1-\31"\\/\127]', json_escape) .. '"'
    elseif t == "number" then
        out[#out + 1] = json_number(v)
    elseif t == "boolean" then
        out[#out + 1] = v and "true" or "false"
    elseif t == "nil" or v == cjson_null then
        out[#out + 1] = "null"
    elseif t == "table" then
        depth = depth + 1
        if depth > cjson_settings.max_depth then
            error("Cannot serialise, excessive nesting (" .. depth .. ")", 0)
        end
        local length = json_array_length(v)
        if length > 0 then
            out[#out + 1] = "["
            for i = 1, length do
                if i > 1 then out[#out + 1] = "," end
                json_encode(rawget(v, i), depth, out)
            end
            out[#out + 1] = "]"
        else
            out[#out + 1] = "{"
            local first = true
            for k, item in next, v do
                local kt = type(k)
                if kt ~= "string" and kt ~= "number" then
                    error("Cannot serialise table: table key must be a number or string", 0)
                end
                if not first then out[#out + 1] = "," end
                first = false
                json_encode(kt == "number" and json_number(k) or k, depth, out)
                out[#out + 1] = ":"
                json_encode(item, depth, out)
            end
            out[#out + 1] = "}"
        end
    else
        error("Cannot serialise " .. t .. ": type not supported", 0)
    end
end

local json_decode = py.json_decode

local function setting(name, low, high)
    return function(value)
        if value ~= nil then
            if type(value) ~= "number" or value < low or value > high then
                error("bad argument #1 to '" .. name .. "' (expected integer between "
                      .. low .. " and " .. high .. ")", 2)
            end
            cjson_settings[name] = value
        end
        return cjson_settings[name]
    end
end

local cjson = {
    encode = function(...)
        if select("#", ...) ~= 1 then
            error("bad argument #1 to 'encode' (expected 1 argument)", 2)
        end
        local out = {}
        local ok, message = raw_pcall(json_encode, (...), 0, out)
        if not ok then error(message, 2) end
        return table_concat(out)
    end,
    decode = function(s)
        if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected)", 2) end
        local value, message = json_decode(s, cjson_settings.decode_max_depth, cjson_null)
        if message then error(message, 2) end
        return value
    end,
    encode_max_depth = function(n) return (setting("max_depth", 1, 2147483647))(n) end,
    decode_max_depth = function(n) return (setting("decode_max_depth", 1, 2147483647))(n) end,
    encode_number_precision = function(n) return (setting("precision", 1, 14))(n) end,
    encode_keep_buffer = function(flag) return flag ~= false end,
    encode_invalid_numbers = function(flag)
        if flag ~= nil then cjson_settings.invalid_numbers = flag and flag ~= "off" end
        return cjson_settings.invalid_numbers
    end,
    decode_invalid_numbers = function(flag) return true end,
    encode_sparse_array = function(convert, ratio, safe)
        if convert ~= nil then cjson_settings.sparse_convert = convert end
        if ratio ~= nil then cjson_settings.sparse_ratio = ratio end
        if safe ~= nil then cjson_settings.sparse_safe = safe end
        return cjson_settings.sparse_convert, cjson_settings.sparse_ratio,
               cjson_settings.sparse_safe
    end,
    null = cjson_null,
    _NAME = "cjson",
    _VERSION = "2.1.0",
}

-- -- cmsgpack: packing walks the values here into tokens, Python writes the bytes -------

local MSGPACK_NESTING = 16

local function msgpack_walk(v, level, out)
    local t = type(v)
    if t == "table" and level == MSGPACK_NESTING then t = "nil" end
    if t == "string" or t == "boolean" then
        out[#out + 1] = t; out[#out + 1] = v
    elseif t == "number" then
        out[#out + 1] = "number"; out[#out + 1] = v
    elseif t == "table" then
        local max, count, is_array = 0, 0, true
        for k in next, v do
            count = count + 1
            if type(k) ~= "number" or k <= 0 or math_floor(k) ~= k then
                is_array = false
            elseif k > max then
                max = k
            end
        end
        if is_array and max == count then
            out[#out + 1] = "array"; out[#out + 1] = max
            for i = 1, max do msgpack_walk(rawget(v, i), level + 1, out) end
        else
            out[#out + 1] = "map"; out[#out + 1] = count
            for k, item in next, v do
                msgpack_walk(k, level + 1, out)
                msgpack_walk(item, level + 1, out)
            end
        end
    else
        out[#out + 1] = "nil"; out[#out + 1] = false
    end
end

local msgpack_pack, msgpack_unpack = py.msgpack_pack, py.msgpack_unpack

local function cmsgpack_pack(...)
    local n = select("#", ...)
    if n == 0 then error("MessagePack pack needs input.", 2) end
    local out = {}
    for i = 1, n do msgpack_walk((select(i, ...)), 0, out) end
    return msgpack_pack(out, #out)
end

local unpacking = multi_bridge(msgpack_unpack)

local cmsgpack = {
    pack = cmsgpack_pack,
    unpack = function(s) return unpacking(s, 0, 0, false) end,
    unpack_one = function(s, offset) return unpacking(s, 1, offset or 0, true) end,
    unpack_limit = function(s, limit, offset) return unpacking(s, limit, offset or 0, true) end,
    _NAME = "cmsgpack",
    _VERSION = "lua-cmsgpack 0.4.0",
}

-- -- struct ------------------------------------------------------------------------------

local struct = {
    pack = multi_bridge(py.struct_pack),
    unpack = multi_bridge(py.struct_unpack),
    size = multi_bridge(py.struct_size),
}

-- -- the globals scripts see ------------------------------------------------------------

local allowed = {}
for _, name in ipairs({"tostring", "next", "assert", "tonumber", "rawequal",
                       "collectgarbage", "getmetatable", "type", "select", "unpack",
                       "gcinfo", "pairs", "rawget", "ipairs", "_VERSION", "error"}) do
    allowed[name] = G[name]
end
allowed.setmetatable = safe_setmetatable
allowed.rawset = safe_rawset
allowed.unpack = safe_unpack
allowed.pcall = safe_pcall
allowed.xpcall = safe_xpcall
allowed.loadstring = safe_loadstring
allowed.load = safe_load
allowed.string = protect(string)
allowed.table = protect(table)
allowed.math = protect(math)
local coroutine_view = {}
for k, v in next, coroutine do coroutine_view[k] = v end
coroutine_view.create, coroutine_view.wrap = hooked_create, hooked_wrap
coroutine_view.resume = safe_resume
allowed.coroutine = protect(coroutine_view)
allowed.redis = protect(redis)
allowed.alchemy = protect(alchemy)
allowed.bit = protect(bit)
allowed.cjson = protect(cjson)
allowed.cmsgpack = protect(cmsgpack)
allowed.struct = protect(struct)
allowed._G = ENV

setmetatable(allowed, {__index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end})

-- Strings share one metatable: a script must not change it for everyone.
local string_metatable = debug_getmetatable("")
string_metatable.__index = allowed.string
string_metatable.__metatable = protect(string_metatable)

-- Named: FUNCTION LOAD points __index at the library API while a library loads.
local env_meta = {__index = allowed, __newindex = refuse, __metatable = protect({})}
setmetatable(ENV, env_meta)
readonly[ENV] = true

-- -- running a script ------------------------------------------------------------------

local function handler(err)
    -- The frame to blame is the first one in script code: not a C function, not this file.
    local level, info = 2, nil
    while true do
        info = getinfo(level, "Sl")
        if info == nil or (info.what ~= "C" and info.what ~= "tail"
                           and info.source ~= INTERNAL) then
            break
        end
        level = level + 1
    end
    err = clean(err)
    local msg, counted
    if type(err) == "table" then
        msg = rawget(err, "err")
        if type(msg) ~= "string" then msg = "ERR " .. tostring(msg) end
        counted = rawget(err, "ignore_error_stats_update")
    else
        msg = "ERR " .. tostring(err)
    end
    return {err = msg, source = info and info.source, line = info and info.currentline,
            ignore_error_stats_update = counted}
end

-- A returned table as (tag, value) pairs in one flat table, read by convert.py. One
-- flattening at a time, so its state is kept here rather than in closures.
local flat, flat_n = nil, 0

local function put(tag, value)
    flat[flat_n + 1] = tag
    flat[flat_n + 2] = value
    flat_n = flat_n + 2
end

local function walk(v, depth)
    local t = type(v)
    if t == "string" or t == "number" or t == "boolean" then
        return put(t, v)
    elseif t ~= "table" then
        return put("nil", false)
    elseif depth > REPLY_DEPTH then
        return put("limit", false)
    end
    local x = rawget(v, "err")
    if type(x) == "string" then return put("err", x) end
    x = rawget(v, "ok")
    if type(x) == "string" then return put("ok", x) end
    x = rawget(v, "double")
    if type(x) == "number" then return put("double", x) end
    x = rawget(v, "big_number")
    if type(x) == "string" then return put("big_number", x) end
    x = rawget(v, "verbatim_string")
    if type(x) == "table" and type(rawget(x, "format")) == "string"
            and type(rawget(x, "string")) == "string" then
        return put("verbatim", rawget(x, "string"))
    end
    local count, at = 0, flat_n + 2
    x = rawget(v, "map")
    if type(x) == "table" then
        put("map", 0)
        for key, item in next, x do
            walk(key, depth + 1)
            walk(item, depth + 1)
            count = count + 1
        end
    else
        x = rawget(v, "set")
        if type(x) == "table" then
            put("set", 0)
            for key in next, x do
                walk(key, depth + 1)
                count = count + 1
            end
        else
            put("array", 0)
            while true do
                local item = rawget(v, count + 1)
                if item == nil then break end
                walk(item, depth + 1)
                count = count + 1
            end
        end
    end
    flat[at] = count
end

local function flatten(root)
    flat, flat_n = {}, 0
    walk(root, 0)
    local out, n = flat, flat_n
    flat = nil
    return out, n
end

local collectgarbage, gcinfo = collectgarbage, gcinfo

local function finish(name, ok, result)
    -- scalar alone | OK_REPLY | 1, flat table, length | 2, error message, counted
    -- | 3, status | 4, error reply, counted   (counted: INFO's errorstats have seen it). A scalar
    -- crosses alone: no status and no tuple for the most common reply.
    if killed then
        killed = false
        sethook(hook, "", HOOK_COUNT)
    end
    if gcinfo() > MEMORY_HIGH_KB then  -- KB, as collectgarbage("count") without its option
        -- Scripts keep nothing between runs: this is garbage, and lupa's own calls
        -- outside a run need room (a failed allocation there aborts).
        collectgarbage("collect")
    end
    if ok then
        if type(result) ~= "table" then return result end
        local x = rawget(result, "ok")
        -- the reply of most writes crosses as the Python OK itself: no status, no tuple
        if x == "OK" then return OK_REPLY end
        if type(x) == "string" then return 3, x end
        x = rawget(result, "err")
        if type(x) == "string" then return 4, x, rawget(result, "ignore_error_stats_update") end
        return 1, flatten(result)
    end
    if type(result) ~= "table" then  -- out of memory: the handler does not run
        return 2, "ERR " .. tostring(result)
    end
    local msg = result.err
    if result.source and result.line then
        msg = msg .. " script: " .. name .. ", on " .. result.source .. ":" .. result.line .. "."
    end
    return 2, msg, result.ignore_error_stats_update
end

local function run(name, f, ...)
    -- Call f with the given arguments (see finish for what it answers).
    local n = select("#", ...)
    if n == 0 then return finish(name, xpcall(f, handler)) end
    local args = {...}
    return finish(name, xpcall(function() return f(unpack(args, 1, n)) end, handler))
end

local function eval_entry(name, f)
    -- EVAL's entry for one script, made when it is cached: its name and function bound,
    -- so a run crosses from Python with the key count and the arguments alone. The first
    -- nkeys values are KEYS, the rest ARGV (globals, as in Redis): two tables made whole
    -- by constructors; KEYS is cut after its keys (a single border, so its length is
    -- right).
    return function(nkeys, ...)
        local keys, argv = {...}, nil
        local n = #keys  -- the arguments are strings (no nil): select("#") without a call
        if n == nkeys then  -- keys alone, the usual call: no ARGV values to pick out
            argv = {}
        else
            argv = {select(nkeys + 1, ...)}
            for i = n, nkeys + 1, -1 do keys[i] = nil end
        end
        allowed.KEYS, allowed.ARGV = keys, argv  -- no __newindex there: raw sets
        return finish(name, xpcall(f, handler))
    end
end

local function run_raw(name, f, ...)
    -- For the Python API (functions called from SQL): the first result as it is, tables
    -- included (5, value); errors as `run` reports them.
    local n, args = select("#", ...), {...}
    local ok, result = xpcall(function() return f(unpack(args, 1, n)) end, handler)
    if not ok then return finish(name, false, result) end
    finish(name, true, nil)  -- the end-of-run upkeep alone
    return 5, result
end

local function compile(body, chunkname)
    local f, message = safe_loadstring(body, chunkname)
    return f, message
end

local function slice(t, i, j)
    return unpack(t, i, j)
end

-- Scripts leave only garbage between runs: a collection cycle starts once the heap is
-- half again as large as after the last one (Lua's default waits for double), which keeps
-- the state small without Redis's explicit GC step every 50 runs (that step re-marks the
-- whole state each time: measured, a sixth of what Lua spends on a short EVALSHA).
collectgarbage("setpause", 150)
sethook(hook, "", HOOK_COUNT)

return {run = run, eval_entry = eval_entry, run_raw = run_raw, compile = compile,
        slice = slice,
        status = function(s) return {ok = s} end,
        ok_tables = function(n)
            local t = {}
            for i = 1, n do t[i] = {ok = "OK"} end
            return unpack(t, 1, n)
        end,
        -- redis.pcall's error tables: the command's reply was counted as it was made
        failure = function(msg) return {err = msg, ignore_error_stats_update = true} end,
        null = cjson_null,
        -- for functions.lua (FUNCTION libraries, INTERPRET), run in this same state
        internals = {env = ENV, env_meta = env_meta, allowed = allowed, protect = protect,
                     refuse = refuse, readonly = readonly, redis = redis, hook = hook,
                     sethook = sethook,
                     hook_count = HOOK_COUNT, handler = handler, internal = INTERNAL,
                     loadstring = safe_loadstring}}
