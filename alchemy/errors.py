"""Error replies shared by every command, so each error is worded once, as Redis words it."""


class AlchemyError(Exception):
    """An error reply. The message starts with the Redis error code (ERR, WRONGTYPE, ...).

    Handlers raise it; the encoders turn it into `-<message>`; the in-process API lets it
    propagate to the caller.
    """

    # Set once INFO's error counters have seen this reply: an error a script passes on
    # from redis.call was counted when the command answered, as in Redis.
    counted = False

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
INDEX_OUT_OF_RANGE = "ERR index out of range"
INVALID_DB = "ERR DB index is out of range"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
NESTED_MULTI = "ERR MULTI calls can not be nested"
EXEC_WITHOUT_MULTI = "ERR EXEC without MULTI"
DISCARD_WITHOUT_MULTI = "ERR DISCARD without MULTI"
WATCH_IN_MULTI = "ERR WATCH inside MULTI is not allowed"
EXECABORT = "EXECABORT Transaction discarded because of previous errors."
BIT_OFFSET = "ERR bit offset is not an integer or out of range"
BIT_VALUE = "ERR bit is not an integer or out of range"
STRING_TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"


def wrong_arity(name: str) -> AlchemyError:
    return AlchemyError(f"ERR wrong number of arguments for '{name}' command")


def unknown_command(argv: list) -> AlchemyError:
    # Redis quotes arguments until 128 bytes are shown, each followed by a space.
    shown = b""
    for arg in argv[1:]:
        if len(shown) >= 128:
            break
        shown += b"'" + arg[:128 - len(shown)] + b"' "
    return AlchemyError("ERR unknown command '%s', with args beginning with: %s" % (
        argv[0][:128].decode("utf-8", "replace"), shown.decode("utf-8", "replace")))


def unknown_subcommand(command: str, sub: bytes) -> AlchemyError:
    return AlchemyError(
        f"ERR unknown subcommand '{sub.decode('utf-8', 'replace')[:128]}'. "
        f"Try {command.upper()} HELP."
    )


def subcommand_syntax(command: str, sub: bytes) -> AlchemyError:
    """A known subcommand given the wrong arguments, as Redis's container commands word it."""
    return AlchemyError(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{sub.decode('utf-8', 'replace')[:128]}'. Try {command.upper()} HELP."
    )
