"""An HTTP emulator of Anthropic's Message Batches API (standard library only).

    from emulator import Emulator
    emu = Emulator(seed=1, speed=0.0)
    url = emu.start()            # "http://127.0.0.1:PORT"
    emu.add_workspace("sk-ant-test-1", "ws1")
"""

from .core import Emulator
from .errors import EmulatorError
from .scenarios import DEMO_API_KEY

__all__ = ["DEMO_API_KEY", "Emulator", "EmulatorError"]
