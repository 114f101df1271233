"""The embedded broker: kombu's filesystem transport, with each message published whole.

kombu's own `_put` creates the message file under its final name, then writes into it. A worker polling the
folder (`_get` takes no lock) can take the file while it is still empty or half written, fail to decode it,
and stop with "Unrecoverable error". That was seen in CI. Here the message is written under a name no queue
matches, then renamed to its final name: a rename within one folder is atomic, so a reader sees either no
message or all of it.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # The same name as kombu's (milliseconds first, so `_get` still takes the oldest message first).
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # `_get`, `_size` and `_purge` match names ending in ".<queue>.msg": this one ends in ".part".
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
