"""The economy link: work decisions drive income, savings and unemployment.

Workers earn their sector's daily wage on days they work; office workers also earn when they
stay home (they can work remotely). A worker absent from the workplace for more than
``job_loss_after`` consecutive days loses the job; an unemployed agent whose sector is open is
re-hired with daily probability ``rehire_rate``. Everyone pays ``daily_expenses`` from savings;
stimulus payments add to savings.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.world import WorldConfig

OFFICE = 2  # the sector that can work from home (index into census.OCCUPATIONS)


class LivelihoodConfig(WorldConfig):
    wages: list[float] = Field(
        [0.0, 160.0, 240.0, 130.0], min_length=4, max_length=4,
        description="daily wage per occupation (none, essential, office, service)",
    )
    daily_expenses: float = Field(60.0, ge=0, description="what every adult spends per day")
    initial_savings_days: float = Field(30.0, ge=0, description="median savings, in days of expenses")
    tight_days: float = Field(14.0, ge=0, description="savings below this many days of expenses count as tight")
    job_loss_after: int = Field(14, ge=1, description="consecutive days absent before a worker loses the job")
    rehire_rate: float = Field(0.03, ge=0, le=1, description="daily chance an unemployed worker is re-hired")


class Livelihood:
    """Per-agent employment, savings and the day's income (compact dtypes)."""

    def __init__(self, occupation: np.ndarray, adult: np.ndarray, config: LivelihoodConfig,
                 rng: np.random.Generator) -> None:
        n = len(occupation)
        self.config = config
        self.occupation = occupation
        self.adult = adult
        self.wage = np.asarray(config.wages, dtype=np.float32)
        self.employed = occupation > 0
        self.absent_days = np.zeros(n, dtype=np.int16)
        days = rng.lognormal(np.log(max(config.initial_savings_days, 1e-3)), 0.8, n).astype(np.float32)
        self.savings = np.where(adult, days * np.float32(config.daily_expenses), 0).astype(np.float32)
        self.income_today = 0.0
        self.stimulus_paid = 0.0

    def tight(self) -> np.ndarray:
        """Adults whose savings cover fewer than ``tight_days`` of expenses."""
        return self.adult & (self.savings < self.config.tight_days * self.config.daily_expenses)

    def update(self, at_work: np.ndarray, remote: np.ndarray, open_sector: np.ndarray, alive: np.ndarray,
               rng: np.random.Generator) -> None:
        """One day: pay wages, charge expenses, lose and regain jobs."""
        paid = self.employed & alive & (at_work | (remote & (self.occupation == OFFICE)))
        income = np.where(paid, self.wage[self.occupation], np.float32(0))
        self.income_today = float(income.sum(dtype=np.float64))
        self.savings += income
        self.savings -= np.where(self.adult & alive, np.float32(self.config.daily_expenses), np.float32(0))
        absent = self.employed & ~paid
        self.absent_days = np.where(absent, self.absent_days + 1, 0).astype(np.int16)
        lost = absent & (self.absent_days > self.config.job_loss_after)
        self.employed &= ~lost
        jobless = ~self.employed & (self.occupation > 0) & alive & open_sector[self.occupation]
        if self.config.rehire_rate > 0:
            hired = jobless & (rng.random(len(jobless), dtype=np.float32) < self.config.rehire_rate)
            self.employed |= hired
            self.absent_days[hired] = 0

    def pay(self, amount: float, who: np.ndarray) -> float:
        """A stimulus payment of ``amount`` to every agent in the mask ``who``; returns the total."""
        self.savings[who] += np.float32(amount)
        total = float(amount) * int(np.count_nonzero(who))
        self.stimulus_paid += total
        return total
