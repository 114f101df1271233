"""An HTTP emulator of Anthropic's Message Batches API (standard library only).

Usage: `emu = Emulator(seed=1, speed=0.0); url = emu.start(); emu.add_workspace("sk-ant-test-1", "ws1")`,
then point `anthropic.Anthropic(api_key="sk-ant-test-1", base_url=url)` at it. See README.md.
"""

from .app import Emulator
from .errors import EmulatorError
from .scenarios import DEMO_ADMIN_KEY, DEMO_API_KEY

__all__ = ["DEMO_ADMIN_KEY", "DEMO_API_KEY", "Emulator", "EmulatorError"]
