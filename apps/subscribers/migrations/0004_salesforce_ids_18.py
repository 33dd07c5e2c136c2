"""Salesforce account ids in the 18-character form the Salesforce API returns. A customer
whose id was entered with 15 characters never matched its account, so each sync created the
customer a second time and moved its subscribers there.

A 15-character id whose 18-character form another customer already holds (the duplicate the
sync made) is left as it is: which of the two to keep is a person's call. Saving that
customer in the admin then says which customer holds the account."""

from django.db import migrations, models

# The algorithm of apps.subscribers.models.customers.salesforce_id_18, frozen here.
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def to_18(value):
    return value + "".join(
        SUFFIX[sum(1 << i for i, c in enumerate(value[start : start + 5]) if c.isupper())]
        for start in range(0, 15, 5)
    )


def forwards(apps, schema_editor):
    if schema_editor.connection.schema_name == "public":
        return
    Customer = apps.get_model("subscribers", "Customer")
    short = Customer.objects.filter(salesforce_account_id__regex=r"^[A-Za-z0-9]{15}$")
    for customer in short.order_by("pk"):
        long = to_18(customer.salesforce_account_id)
        if Customer.objects.filter(salesforce_account_id=long).exists():
            continue
        customer.salesforce_account_id = long
        customer.save(update_fields=["salesforce_account_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("subscribers", "0003_webhook_health_and_broadcasts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customer",
            name="salesforce_account_id",
            field=models.CharField(
                blank=True,
                help_text="15 or 18 characters; kept in the 18-character form Salesforce's API uses.",
                max_length=18,
            ),
        ),
        # The 18-character form is the same account: nothing to undo.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
