"""Insights: supplier scorecards, refund and dispute analytics, refund-policy advice, complaints."""
