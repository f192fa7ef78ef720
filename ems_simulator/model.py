"""Physics of the simulated home: house load, PV, a 12 kWh battery, the grid meter and the CT.

Time is whatever the injected clock says (seconds, default `time.monotonic`). The model advances
lazily: each request calls `advance()`, which integrates one-second ticks from the last tick up to
the clock's current whole second. So a test can jump the clock by hours and the model catches up
deterministically (load and PV are functions of the tick, no random numbers).

Conventions:
- Battery power is at the battery terminals, + = charging. Register 6000 reports it with that
  sign unless `battery_charge_positive` is False (then + = discharging), because the vendor does
  not document the sign.
- Grid power is + = import, as the P1 meter reports it. The CT (register 11016) reports the grid
  power times `ct_gain` (a gain error within the clamp's tolerance), negated when
  `ct_reversed` (clamp mounted the wrong way round).
- The P1 sample refreshes every second; 11016 and the battery registers 6000/6001 only at
  5-second boundaries (the firmware's refresh, and why they lag).

Working modes: 1 self-consumption (battery covers the house's deficit and stores the PV surplus,
keeping the grid near 0); 4 real-time (follows the last 47015 command: charge at w W until the
SOC reaches soc, discharge at w W down to soc, or stand by); 5 schedule and 0 outdoor: no
schedule is modelled, the battery idles and PV flows to the house. Changing the mode resets the
real-time command to standby. `mode_report_lag_s` makes 7101 report the previous mode for that
long after a change, as real firmware is suspected to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math

MAX_POWER_W = 2400
MIN_COMMAND_POWER_W = 50
MIN_COMMAND_SOC_PERCENT = 5
MAX_COMMAND_SOC_PERCENT = 100
CT_REFRESH_S = 5
# Relative gain error of the CT and the tolerance the simulator guarantees against the P1 meter
# at the CT's sample instants (gain error plus rounding of both readings).
DEFAULT_CT_GAIN = 1.01
CT_TOLERANCE_RELATIVE = 0.02
CT_TOLERANCE_W = 2.0

MODE_OUTDOOR = 0
MODE_SELF_CONSUMPTION = 1
MODE_REALTIME = 4
MODE_SCHEDULE = 5
WRITABLE_MODES = frozenset({MODE_SELF_CONSUMPTION, MODE_REALTIME, MODE_SCHEDULE})

STATE_STATIC = 1000
STATE_CHARGING = 1001
STATE_DISCHARGING = 1002

PHASE_SHARES = (0.5, 0.3, 0.2)


@dataclass
class RealtimeCommand:
    """The last accepted 47015 command."""

    action: int = 0
    watts: int = 0
    soc_percent: int = 0


def house_load_w(tick: int, hour: float) -> float:
    """House consumption at `tick` (seconds) and local `hour`: base, daily peaks, appliances."""
    base = 250.0
    morning = 500.0 * math.exp(-(((hour - 7.5) / 1.0) ** 2))
    evening = 900.0 * math.exp(-(((hour - 19.0) / 1.8) ** 2))
    fridge = 90.0 if (tick // 1200) % 2 == 0 else 0.0
    kettle = 2000.0 if tick % 5400 < 180 else 0.0
    ripple = 60.0 * math.sin(tick / 7.3) + 40.0 * math.sin(tick / 2.1)
    return max(50.0, base + morning + evening + fridge + kettle + ripple)


def pv_power_w(tick: int, hour: float, peak_w: float) -> float:
    """PV power: a daylight arc from 06:00 to 20:00 with slow passing clouds."""
    if not 6.0 < hour < 20.0:
        return 0.0
    sun = math.pow(math.sin(math.pi * (hour - 6.0) / 14.0), 1.2)
    clouds = 0.8 + 0.2 * math.sin(tick / 900.0) * math.sin(tick / 137.0)
    return peak_w * sun * clouds


@dataclass(frozen=True)
class P1Sample:
    """What the P1 meter shows after one tick."""

    power_w: float
    phase_power_w: tuple[float, float, float]
    voltage_v: tuple[float, float, float]


class HomeModel:
    """The simulated home; all state changes go through `advance()` and the command methods."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        start: datetime | None = None,
        capacity_kwh: float = 12.0,
        initial_soc_percent: float = 50.0,
        backup_soc_percent: int = 5,
        charge_efficiency: float = 0.95,
        discharge_efficiency: float = 0.95,
        pv_peak_w: float = 2000.0,
        ct_gain: float = DEFAULT_CT_GAIN,
        ct_reversed: bool = False,
        battery_charge_positive: bool = True,
    ) -> None:
        """Start the home at `start` (wall time of tick 0) with the battery at `initial_soc`."""
        self.clock = clock
        self._t0 = clock()
        self.start = start or datetime.now(UTC).replace(microsecond=0)
        self.capacity_kwh = capacity_kwh
        self.backup_soc_percent = backup_soc_percent
        self.charge_efficiency = charge_efficiency
        self.discharge_efficiency = discharge_efficiency
        self.pv_peak_w = pv_peak_w
        self.ct_gain = ct_gain
        self.ct_reversed = ct_reversed
        self.battery_charge_positive = battery_charge_positive
        # What the battery (a whole cluster) takes and delivers; the simulator's device sets it.
        self.max_charge_w = MAX_POWER_W
        self.max_discharge_w = MAX_POWER_W
        # The feed-in limit (1146 / 11010), W; None: none set. The simulator's device sets it.
        self.feed_in_limit_w: float | None = None
        self.mode = MODE_SELF_CONSUMPTION
        # Seconds after a mode change during which 7101 still reports the previous mode (real
        # firmware is suspected to lag by a poll or two); 0 reports the new mode at once.
        self.mode_report_lag_s = 0
        self._mode_before_change = self.mode
        self._mode_changed_tick = 0
        self.command = RealtimeCommand()
        self.grid_charging = False
        # False: no meter (CT) is connected to the battery: 7120 reads 1001 and 11016 stays 0.
        # The server sets it from the device's settings (`DeviceSettings.meter_connected`).
        self.meter_connected = True
        self.tick = 0
        self.energy_wh = capacity_kwh * 1000 * initial_soc_percent / 100
        # Instantaneous values of the last tick.
        self.house_w = 0.0
        self.pv_w = (0.0, 0.0)
        self.battery_w = 0.0
        self.ac_w = 0.0  # inverter AC, + = output to the house, - = input from the grid
        self.grid_w = 0.0
        self.p1 = P1Sample(0.0, (0.0, 0.0, 0.0), (230.0, 230.0, 230.0))
        # Samples refreshed every CT_REFRESH_S.
        self.ct_sample_w = 0.0
        self.battery_sample_w = 0.0
        # Counters (start non-zero, as on a device in service). Totals only grow.
        self.pv_total_wh = 1_234_000.0
        self.pv_today_wh = 0.0
        self.ac_input_total_wh = 289_970.0
        self.charge_total_wh = 380_580.0
        self.discharge_total_wh = 338_070.0
        self.charge_today_wh = 0.0
        self.discharge_today_wh = 0.0
        self.import_wh = [10_830_511.0, 2_948_827.0]  # tariff 1 (night), tariff 2 (day)
        self.export_wh = [1_285_951.0, 2_876_510.0]
        self.gas_m3 = 2569.646
        self.quarter_import_wh = 0.0
        self.quarter_peak_w = 0.0
        self.month_peak_w = 0.0
        self.month_peak_at = self.start
        self._step_to(0)

    # -- time ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        """Wall time of the last tick."""
        return self.start + timedelta(seconds=self.tick)

    def advance(self) -> None:
        """Integrate whole-second ticks up to the clock's current time."""
        target = math.floor(self.clock() - self._t0)
        while self.tick < target:
            self._step_to(self.tick + 1)

    @property
    def soc_percent(self) -> float:
        """State of charge, 0..100."""
        return 100.0 * self.energy_wh / (self.capacity_kwh * 1000)

    @soc_percent.setter
    def soc_percent(self, value: float) -> None:
        self.energy_wh = self.capacity_kwh * 1000 * min(100.0, max(0.0, value)) / 100

    @property
    def active_tariff(self) -> int:
        """1 at night (22:00-07:00), 2 by day."""
        hour = self.now().hour
        return 1 if hour >= 22 or hour < 7 else 2

    # -- commands ------------------------------------------------------------------------------

    def set_mode(self, mode: int) -> bool:
        """Apply a 47005 write; False (rejected) for a mode that cannot be written."""
        if mode not in WRITABLE_MODES:
            return False
        self._mode_before_change = self.reported_mode
        self._mode_changed_tick = self.tick
        self.mode = mode
        self.command = RealtimeCommand()
        return True

    def set_realtime(self, action: int, watts: int, soc_percent: int) -> bool:
        """Apply a 47015 write; False (rejected) outside the device's limits.

        Accepted in every mode but honoured only in mode 4 (as the device does).
        """
        if action == 0:
            self.command = RealtimeCommand(0, watts, soc_percent)
            return True
        if action not in (1, 2):
            return False
        limit_w = self.max_charge_w if action == 1 else self.max_discharge_w
        if not MIN_COMMAND_POWER_W <= watts <= limit_w:
            return False
        if not MIN_COMMAND_SOC_PERCENT <= soc_percent <= MAX_COMMAND_SOC_PERCENT:
            return False
        self.command = RealtimeCommand(action, watts, soc_percent)
        return True

    # -- physics -------------------------------------------------------------------------------

    def _house_load_w(self, tick: int, hour: float) -> float:
        """The house's consumption at `tick` (a subclass may model another house)."""
        return house_load_w(tick, hour)

    def _pv_power_w(self, tick: int, hour: float) -> float:
        """The PV power at `tick` (a subclass may model other panels and weather)."""
        return pv_power_w(tick, hour, self.pv_peak_w)

    def _setpoint_w(self, house_w: float, pv_w: float) -> float:
        if self.mode == MODE_SELF_CONSUMPTION:
            return pv_w - house_w
        if self.mode == MODE_REALTIME:
            command = self.command
            if command.action == 1 and self.soc_percent < command.soc_percent:
                return float(command.watts)
            if command.action == 2 and self.soc_percent > command.soc_percent:
                return -float(command.watts)
        return 0.0

    def _limit_w(self, setpoint_w: float, pv_w: float) -> float:
        power = max(-self.max_discharge_w, min(self.max_charge_w, setpoint_w))
        # The inverter's AC side is limited too: AC output <= discharge, AC input <= charge.
        power = max(pv_w - self.max_discharge_w, min(pv_w + self.max_charge_w, power))
        capacity_wh = self.capacity_kwh * 1000
        floor_wh = capacity_wh * self.backup_soc_percent / 100
        room_w = max(0.0, (capacity_wh - self.energy_wh) * 3600 / self.charge_efficiency)
        available_w = max(0.0, (self.energy_wh - floor_wh) * 3600 * self.discharge_efficiency)
        return max(-available_w, min(room_w, power))

    def _curtailed_w(self, house_w: float, pv_w: float, battery_w: float) -> float:
        """The DC PV the inverter holds back so the export stays within the feed-in limit.

        Only PV on the Indevolt's own inputs can be curtailed: PV on another inverter is part
        of `house_w` (a lower load) and is exported whatever the limit says.
        """
        limit = self.feed_in_limit_w
        if limit is None:
            return 0.0
        export_w = pv_w - battery_w - house_w
        return min(pv_w, max(0.0, export_w - limit))

    def _step_to(self, tick: int) -> None:
        previous_day = self.now().date()
        previous_quarter = self.now().minute // 15
        self.tick = tick
        now = self.now()
        if now.minute // 15 != previous_quarter:
            # The month's peak is the highest *completed* quarter (as a DSMR / e-MUCS meter's
            # maximum demand register), not the running average of the quarter under way.
            if self.quarter_peak_w > self.month_peak_w:
                self.month_peak_w, self.month_peak_at = self.quarter_peak_w, now
            self.quarter_import_wh = 0.0
        if now.date() != previous_day:
            self.pv_today_wh = self.charge_today_wh = self.discharge_today_wh = 0.0
            if now.month != (now - timedelta(days=1)).month:
                self.month_peak_w = 0.0
        hour = now.hour + now.minute / 60 + now.second / 3600
        house = self._house_load_w(tick, hour)
        pv_total = self._pv_power_w(tick, hour)
        battery = self._limit_w(self._setpoint_w(house, pv_total), pv_total)
        pv_total -= self._curtailed_w(house, pv_total, battery)
        ac = pv_total - battery
        grid = house - ac
        self.house_w, self.pv_w = house, (pv_total * 0.6, pv_total * 0.4)
        self.battery_w, self.ac_w, self.grid_w = battery, ac, grid

        hours = 1 / 3600
        if battery > 0:
            self.energy_wh += battery * self.charge_efficiency * hours
            self.charge_total_wh += battery * hours
            self.charge_today_wh += battery * hours
        else:
            self.energy_wh += battery / self.discharge_efficiency * hours
            self.discharge_total_wh -= battery * hours
            self.discharge_today_wh -= battery * hours
        self.energy_wh = min(self.capacity_kwh * 1000, max(0.0, self.energy_wh))
        self.pv_total_wh += pv_total * hours
        self.pv_today_wh += pv_total * hours
        if ac < 0:
            self.ac_input_total_wh -= ac * hours
        tariff_index = self.active_tariff - 1
        if grid > 0:
            self.import_wh[tariff_index] += grid * hours
            self.quarter_import_wh += grid * hours
        else:
            self.export_wh[tariff_index] -= grid * hours
        elapsed_s = (now.minute % 15) * 60 + now.second + 1
        self.quarter_peak_w = self.quarter_import_wh * 3600 / elapsed_s
        self.gas_m3 += 0.0000005 * house

        phases = tuple(share * house for share in PHASE_SHARES)
        phase_power = (phases[0] - ac, phases[1], phases[2])
        voltages = tuple(230.0 + 2.0 * math.sin(tick / 50.0 + offset) for offset in (0, 2, 4))
        self.p1 = P1Sample(grid, phase_power, (voltages[0], voltages[1], voltages[2]))
        if tick % CT_REFRESH_S == 0:
            sign = -1.0 if self.ct_reversed else 1.0
            self.ct_sample_w = sign * grid * self.ct_gain if self.meter_connected else 0.0
            self.battery_sample_w = battery

    # -- readings ------------------------------------------------------------------------------

    @property
    def reported_mode(self) -> int:
        """Register 7101: the mode, or the previous one for `mode_report_lag_s` after a change."""
        if self.tick < self._mode_changed_tick + self.mode_report_lag_s:
            return self._mode_before_change
        return self.mode

    def battery_state(self) -> int:
        """Register 6001 from the 5-second battery sample."""
        if self.battery_sample_w > 10:
            return STATE_CHARGING
        if self.battery_sample_w < -10:
            return STATE_DISCHARGING
        return STATE_STATIC

    def registers(self, serial: str) -> dict[int, float | int | str]:
        """Every register the simulated PowerFlex2000 knows, as it would send them."""
        battery_sign = 1 if self.battery_charge_positive else -1
        pv1, pv2 = self.pv_w
        return {
            0: serial,
            142: self.capacity_kwh,
            1501: round(max(0.0, pv1 + pv2 - self.battery_w)),
            1502: round(self.pv_today_wh / 1000, 2),
            1505: round(self.pv_total_wh),
            1664: round(pv1),
            1665: round(pv2),
            2101: round(max(0.0, -self.ac_w)),
            2107: round(self.ac_input_total_wh / 1000, 2),
            2108: round(max(0.0, self.ac_w)),
            2618: 1001 if self.grid_charging else 1000,
            6000: round(battery_sign * self.battery_sample_w),
            6001: self.battery_state(),
            6002: round(self.soc_percent),
            6004: round(self.charge_today_wh / 1000, 2),
            6005: round(self.discharge_today_wh / 1000, 2),
            6006: round(self.charge_total_wh / 1000, 2),
            6007: round(self.discharge_total_wh / 1000, 2),
            6105: self.backup_soc_percent,
            7101: self.reported_mode,
            7120: 1000 if self.meter_connected else 1001,
            11016: round(self.ct_sample_w),
        }

    def p1_data(self) -> dict[str, object]:
        """The P1 meter's `/api/v1/data` reply, keys as the v1 firmware names them."""
        sample = self.p1
        now = self.now()
        peak_stamp = int(self.month_peak_at.strftime("%y%m%d%H%M%S"))
        gas_at = now.replace(minute=now.minute - now.minute % 5, second=0)
        gas_stamp = int(gas_at.strftime("%y%m%d%H%M%S"))
        data: dict[str, object] = {
            "wifi_ssid": "Simulated Wi-Fi",
            "wifi_strength": 84,
            "smr_version": 50,
            "meter_model": "ISKRA  2M550T-101",
            "unique_id": "4E47475955",
            "active_tariff": self.active_tariff,
            "total_power_import_kwh": round(sum(self.import_wh) / 1000, 3),
            "total_power_import_t1_kwh": round(self.import_wh[0] / 1000, 3),
            "total_power_import_t2_kwh": round(self.import_wh[1] / 1000, 3),
            "total_power_export_kwh": round(sum(self.export_wh) / 1000, 3),
            "total_power_export_t1_kwh": round(self.export_wh[0] / 1000, 3),
            "total_power_export_t2_kwh": round(self.export_wh[1] / 1000, 3),
            "active_power_w": round(sample.power_w),
            "active_power_average_w": round(self.quarter_peak_w, 3),
            "montly_power_peak_w": round(self.month_peak_w, 3),
            "montly_power_peak_timestamp": peak_stamp,
            "any_power_fail_count": 4,
            "long_power_fail_count": 5,
            "active_frequency_hz": 50,
            "total_gas_m3": round(self.gas_m3, 3),
            "gas_timestamp": gas_stamp,
            "gas_unique_id": "4E474C5944",
            "external": [
                {
                    "unique_id": "4E474C5944",
                    "type": "gas_meter",
                    "timestamp": gas_stamp,
                    "value": round(self.gas_m3, 3),
                    "unit": "m3",
                }
            ],
        }
        for phase, (power, voltage) in enumerate(
            zip(sample.phase_power_w, sample.voltage_v, strict=True), start=1
        ):
            data[f"active_power_l{phase}_w"] = round(power)
            data[f"active_voltage_l{phase}_v"] = round(voltage, 1)
            data[f"active_current_l{phase}_a"] = round(power / voltage, 3)
            data[f"voltage_sag_l{phase}_count"] = 0
            data[f"voltage_swell_l{phase}_count"] = 0
        return data
