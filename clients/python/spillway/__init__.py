# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""spillway's client for Python applications: report pools and queues, read the shed state.

    import spillway
    c = spillway.Client()
    c.report_pool("db", in_use=17, capacity=20, waiting=3)
    st = c.shed_state("api", tier=2)
    if st.shed: answer 503 with Retry-After: st.retry_after_s
"""

from .client import REPORT_SOCKET, STALE_TICKS, STATE_DIR, Client, ServiceState, ShedState

__all__ = ["Client", "ShedState", "ServiceState", "STATE_DIR", "REPORT_SOCKET", "STALE_TICKS"]
