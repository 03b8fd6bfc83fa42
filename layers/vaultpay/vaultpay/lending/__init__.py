"""Peer-to-peer lending: loan requests, funding through escrow, EMI schedules, repayments."""
