"""cgr-console commands for accounts, balances, actions and the scheduler (CGRateS's names)."""

from __future__ import annotations

CONSOLE_COMMANDS: dict[str, tuple[str, str]] = {
    "accounts": ("APIerSv2.GetAccounts", 'accounts of a tenant: Tenant="cgrates.org" AccountIDs=["1001"]'),
    "account_set": ("APIerSv2.SetAccount", 'create/update an account: Tenant="cgrates.org" Account="1001" '
                    'ActionPlanIDs=["PACKAGE_10"] ActionTriggerIDs=["STANDARD_TRIGGERS"] '
                    'ExtraOptions={"AllowNegative":false,"Disabled":false}'),
    "account_remove": ("APIerSv1.RemoveAccount", 'remove an account: Tenant="cgrates.org" Account="1001"'),
    "account_actionplan_get": ("APIerSv1.GetAccountActionPlan",
                               'plans of an account with next runs: Tenant="cgrates.org" Account="1001"'),
    "account_triggers": ("APIerSv1.GetAccountActionTriggers",
                         'action triggers of an account: Tenant="cgrates.org" Account="1001"'),
    "account_trigger_reset": ("APIerSv1.ResetAccountActionTriggers",
                              're-arm triggers: Tenant="cgrates.org" Account="1001" GroupID="" UniqueID=""'),
    "balance_set": ("APIerSv1.SetBalance", 'set a balance: Tenant="cgrates.org" Account="1001" '
                    'BalanceType="*monetary" Value=10 Balance={"ID":"main"} (no ID: the *default balance)'),
    "balance_add": ("APIerSv1.AddBalance", 'top up a balance: Tenant="cgrates.org" Account="1001" '
                    'BalanceType="*monetary" Value=10 Balance={"ID":"main","Weight":10} Overwrite=false'),
    "balance_debit": ("APIerSv1.DebitBalance", 'debit a balance: Tenant="cgrates.org" Account="1001" '
                      'BalanceType="*monetary" Value=1 Balance={"ID":"main"}'),
    "balance_remove": ("APIerSv1.RemoveBalances", 'remove balances: Tenant="cgrates.org" Account="1001" '
                       'BalanceType="*monetary" Balance={"ID":"main"}'),
    "action_execute": ("APIerSv1.ExecuteAction", 'run actions: Tenant="cgrates.org" Account="1001" '
                       'ActionsId="TOPUP_10"'),
    "actions": ("APIerSv1.GetActions", 'an action list: ActionsId="TOPUP_10"'),
    "actions_set": ("APIerSv1.SetActions", 'define actions: ActionsId="TOPUP_10" Overwrite=true '
                    'Actions=[{"Identifier":"*topup","BalanceType":"*monetary","Units":10}]'),
    "actionplan_get": ("APIerSv1.GetActionPlan", 'action plans: ID="PACKAGE_10" (empty: all)'),
    "actionplan_set": ("APIerSv1.SetActionPlan", 'define an action plan: Id="MONTHLY" Overwrite=true '
                       'ActionPlan=[{"ActionsId":"TOPUP_10","Time":"*monthly","Weight":10}]'),
    "actionplan_remove": ("APIerSv1.RemoveActionPlan", 'remove an action plan: ID="MONTHLY"'),
    "triggers": ("APIerSv1.GetActionTriggers", 'action triggers: GroupIDs=["STANDARD_TRIGGERS"] (empty: all)'),
    "trigger_set": ("APIerSv1.SetActionTrigger", 'set a trigger: GroupID="STANDARD_TRIGGERS" UniqueID="t1" '
                    'ActionTrigger={"ThresholdType":"*max_balance","ThresholdValue":100,'
                    '"BalanceType":"*monetary","ActionsID":"DISABLE_AND_LOG"}'),
    "trigger_remove": ("APIerSv1.RemoveActionTrigger", 'remove triggers: GroupID="STANDARD_TRIGGERS" UniqueID=""'),
    "scheduler_queue": ("APIerSv1.GetScheduledActions",
                        'scheduled actions: Tenant="cgrates.org" Account="" TimeStart="" TimeEnd="" Limit=0'),
    "maxduration": ("Responder.GetMaxSessionTime", 'usage the balances allow: Tenant="cgrates.org" '
                    'Category="call" Account="1001" Subject="1001" Destination="1002" '
                    'TimeStart="2024-01-01T10:00:00Z" TimeEnd="2024-01-01T13:00:00Z"'),
    "debit": ("Responder.Debit", 'debit a call: Tenant Category Account Subject Destination TimeStart TimeEnd ToR'),
}
